// Cluster bench (issue 15): intake and delivery msg/s of cluster mode on RabbitMQ, one host
// and two hosts, beside single-host mode (no broker) measured in the same run.
//
//   node bench/cluster.mjs            (part of npm run bench; about 1.5 minutes)
//
// Three set-ups, each started fresh (own temp data dirs, a broker prefix of its own, deleted
// with its queues and exchange afterwards):
//   single     baseline: one relay, no broker (the default mode), pinned to core 0
//   cluster×1  one relay in cluster mode, pinned to core 0
//   cluster×2  two relays in cluster mode on one prefix, host A on core 0, host B on core 1
// The load generator, the SMTP sink and this runner sit on core 1 (in cluster×2 beside host
// B: the machine has two cores); RabbitMQ runs where the system started it, unpinned, and
// its CPU time is counted per message.
//
// Intake: POST /api/email/send with the 2 KiB JSON payload (bench/payloads.mjs) from
// autocannon (bench/load.mjs, draining at the end), 50 connections in all (split evenly
// across the hosts), delivery paused: a 1 s warm-up, then CLUSTER_SECONDS (4) measured.
// msg/s = the 2xx of all hosts / the longest load's start → last response.
// Delivery: fresh hosts, delivery paused; CLUSTER_N (2000) mails accepted round-robin across
// the hosts (32 in flight); once every host's /health counts all of them queued (the
// journal copied them), delivery is resumed on every host at once. msg/s = distinct mails
// at the sink / (its last message − the resume). The sink counts Message-IDs: duplicates
// are deliveries of a mail it already had. Afterwards every host must count 0 queued
// (outcomes recorded and copied). A drain is capped at CLUSTER_CAP_SECONDS (15).
//
// No broker at CLUSTER_BROKER (default amqp://guest:guest@127.0.0.1:5672) → one line saying
// so, and the bench is skipped (exit 0).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { ulid } from "ulid";
import { appYaml, binary, root, startSink } from "./delivery/harness.mjs";
import { alive, cpuTimes, installCleanup, spawnTracked, stopChild, waitQuiet } from "./delivery/procs.mjs";
import { buildPayloads } from "./payloads.mjs";
import { newerSource } from "./stale-binary.mjs";

const envNumber = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const brokerUrl = process.env.CLUSTER_BROKER ?? "amqp://guest:guest@127.0.0.1:5672";
const measureSeconds = envNumber("CLUSTER_SECONDS", 4);
const mails = envNumber("CLUSTER_N", 2000);
const capSeconds = envNumber("CLUSTER_CAP_SECONDS", 15);
const connections = 50;
const senders = 32;
const workers = 20;
const delayLevels = Array.from({ length: 23 }, (_, k) => 2 ** k); // src/cluster/topology.ts

const setups = [
  { name: "single", label: "single host, no broker (baseline)", cluster: false, cpus: ["0"] },
  { name: "cluster×1", label: "cluster mode, 1 host", cluster: true, cpus: ["0"] },
  { name: "cluster×2", label: "cluster mode, 2 hosts", cluster: true, cpus: ["0", "1"] },
];

async function brokerReachable() {
  try {
    const connection = await amqp.connect(brokerUrl, { timeout: 3000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

const fmt = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

function table(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])));
  return [line(header), widths.map((w) => "-".repeat(w)), ...body.map(line)].map((l) => l.join("  ")).join("\n");
}

// ---------------------------------------------------------------- hosts
const dataBase = os.tmpdir();
const scratchBase = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
const tempDirs = new Set();
function tempDir(base, prefix) {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  tempDirs.add(dir);
  return dir;
}
function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

async function startHost(name, cpu, sinkPort, prefix) {
  const dir = tempDir(dataBase, `mailspool-cluster-bench-${name}-`);
  const logFile = path.join(tempDir(scratchBase, `mailspool-cluster-bench-log-`), "server.log");
  const broker = prefix ? `broker: { url: "${brokerUrl}", prefix: "${prefix}" }\n` : "";
  fs.writeFileSync(
    path.join(dir, "app.yaml"),
    appYaml({ workers, smtpPort: sinkPort, maxConnections: 5, logLevel: "info" }) + broker,
  );
  const env = { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" };
  for (const v of ["MAILSPOOL_DATA_DIR", "MAILSPOOL_LOG_LEVEL", "MAILSPOOL_CONFIG"]) delete env[v];
  const logFd = fs.openSync(logFile, "w");
  const child = spawnTracked("taskset", ["-c", cpu, binary, "serve", "-c", "app.yaml"], {
    cwd: dir,
    env,
    stdio: ["ignore", logFd, logFd],
  });
  fs.closeSync(logFd);
  const host = { name, dir, logFile, child, url: "" };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = fs.readFileSync(logFile, "utf8");
    const line = text.split("\n").find((l) => l.includes('"msg":"mailspool listening"'));
    if (line && (!prefix || text.includes('"msg":"connected to the broker"'))) {
      host.url = JSON.parse(line).url;
      break;
    }
    if (!alive(child) || Date.now() > deadline)
      throw new Error(`${name} ${alive(child) ? "not ready within 30 s" : "exited"}:\n${text.slice(-2000)}`);
    await sleep(25);
  }
  const paused = await fetch(`${host.url}/admin/pause`, { method: "POST" });
  if (paused.status !== 200) throw new Error(`${name}: POST /admin/pause answered ${paused.status}`);
  return host;
}

/** Starts a set-up's hosts (paused) on a fresh prefix. */
async function startSetup(setup, sinkPort) {
  const prefix = setup.cluster ? `bench-${ulid().toLowerCase()}` : null;
  const started = await Promise.allSettled(
    setup.cpus.map((cpu, i) => startHost(`host${"AB"[i]}`, cpu, sinkPort, prefix)),
  );
  const hosts = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stopSetup({ hosts, prefix });
    throw failed.reason;
  }
  return { hosts, prefix };
}

async function stopSetup({ hosts, prefix }) {
  await Promise.all(hosts.map((h) => stopChild(h.child, 15_000)));
  const hostIds = hosts.map((h) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(h.dir, "data/cluster.json"), "utf8")).host;
    } catch {
      return null;
    }
  });
  for (const h of hosts) {
    removeDir(h.dir);
    removeDir(path.dirname(h.logFile));
  }
  if (prefix) await deleteTopology(prefix, hostIds.filter(Boolean));
}

/** Deletes what the relays declared under `prefix`: the queues by name (topology.ts), then the exchange. */
async function deleteTopology(prefix, hostIds) {
  const queues = [
    `${prefix}.work`,
    `${prefix}.leader`,
    ...hostIds.map((id) => `${prefix}.journal.${id}`),
    ...delayLevels.map((s) => `${prefix}.delay.${s}s`),
  ];
  const connection = await amqp.connect(brokerUrl);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(`${prefix}.journal`);
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------- measuring
const brokerPid = (() => {
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "beam.smp") return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  return null;
})();

/** CPU seconds (user + sys) of each host and of the broker. */
function cpuNow(hosts) {
  const seconds = (pid) => {
    const t = cpuTimes(pid);
    return t.user + t.sys;
  };
  return { hosts: hosts.map((h) => seconds(h.child.pid)), broker: brokerPid ? seconds(brokerPid) : NaN };
}

function cpuPerMessage(before, after, count) {
  const us = (a, b) => ((b - a) / count) * 1e6;
  return { hosts: after.hosts.map((a, i) => us(before.hosts[i], a)), broker: us(before.broker, after.broker) };
}

async function quiet() {
  const gate = await waitQuiet("cpu0", { maxSeconds: 3 });
  if (!gate.quiet) process.stdout.write(`[core 0 still ${fmt(gate.busyPct)}% busy; measuring anyway] `);
}

async function runLoad(scratch, host, payloadFile, conns, seconds) {
  const jobFile = path.join(scratch, `job-${host.name}.json`);
  fs.writeFileSync(
    jobFile,
    JSON.stringify({
      url: host.url,
      bodyFile: payloadFile,
      contentType: "application/json",
      connections: conns,
      seconds,
    }),
  );
  const child = spawnTracked("taskset", ["-c", "1", process.execPath, path.join(root, "bench/load.mjs"), jobFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  await child.exited;
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
  if (result.error) throw new Error(`load generator: ${result.error}`);
  return result;
}

async function health(host) {
  const response = await fetch(`${host.url}/health`);
  return (await response.json()).details;
}

/** Waits (≤ ms) until every host counts `queued` mails queued; false when it did not happen. */
async function everyHostQueued(hosts, queued, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const counts = await Promise.all(hosts.map(async (h) => (await health(h)).queued_emails));
    if (counts.every((c) => c === queued)) return true;
    await sleep(100);
  }
  return false;
}

async function intake(setup, sinkPort, payload, scratch) {
  const running = await startSetup(setup, sinkPort);
  try {
    const { hosts } = running;
    const per = Math.floor(connections / hosts.length);
    let accepted = 0;
    for (const r of await Promise.all(hosts.map((h) => runLoad(scratch, h, payload.bodyFile, per, 1))))
      accepted += r.ok2xx;
    await quiet();
    const before = cpuNow(hosts);
    const runs = await Promise.all(hosts.map((h) => runLoad(scratch, h, payload.bodyFile, per, measureSeconds)));
    const after = cpuNow(hosts);
    const ok = runs.reduce((n, r) => n + r.ok2xx, 0);
    accepted += ok;
    // every host's index knows every accepted mail (own or copied by the journal)
    const known = await everyHostQueued(hosts, accepted, 30_000);
    return {
      msgPerSec: (ok * 1000) / Math.max(...runs.map((r) => r.elapsedMs)),
      ok,
      failed: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
      p99: Math.max(...runs.map((r) => r.latency.p99)),
      cpu: cpuPerMessage(before, after, ok),
      genCpuPct: Math.max(...runs.map((r) => r.genCpuPct)),
      known,
    };
  } finally {
    await stopSetup(running);
  }
}

/** Accepts `count` mails round-robin across the hosts, `senders` in flight. */
async function acceptMails(hosts, count, body) {
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < count) {
        const n = next++;
        const response = await fetch(`${hosts[n % hosts.length].url}/api/email/send`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const answer = await response.text();
        if (response.status !== 200) throw new Error(`pre-accepting: ${response.status} ${answer.slice(0, 300)}`);
      }
    }),
  );
}

async function delivery(setup, sink, payload) {
  const running = await startSetup(setup, sink.smtpPort);
  try {
    const { hosts } = running;
    await acceptMails(hosts, mails, payload.body);
    if (!(await everyHostQueued(hosts, mails, 60_000)))
      throw new Error(`not every host counted ${mails} queued within 60 s`);
    await quiet();
    await sink.reset();
    const before = cpuNow(hosts);
    const resumedAt = Date.now();
    await Promise.all(hosts.map((h) => fetch(`${h.url}/admin/resume`, { method: "POST" })));
    let stats = await sink.stats();
    const deadline = Date.now() + capSeconds * 1000;
    while (stats.distinct < mails && Date.now() < deadline) {
      await sleep(50);
      stats = await sink.stats();
    }
    const after = cpuNow(hosts);
    const complete = stats.distinct >= mails;
    const seconds = ((complete ? stats.lastAt : Date.now()) - resumedAt) / 1000;
    const recorded = complete && (await everyHostQueued(hosts, 0, 15_000));
    await sleep(500); // a late duplicate would arrive within this
    stats = await sink.stats();
    return {
      msgPerSec: stats.distinct / seconds,
      complete,
      delivered: stats.distinct,
      duplicates: stats.duplicates,
      withoutId: stats.withoutId,
      cpu: cpuPerMessage(before, after, stats.distinct),
      recorded,
    };
  } finally {
    await stopSetup(running);
  }
}

// ---------------------------------------------------------------- the bench
export async function runClusterBench() {
  if (!(await brokerReachable())) {
    console.log(
      `cluster bench: skipped, no RabbitMQ at ${brokerUrl.replace(/:[^:@/]*@/, ":***@")} (rabbitmq-server -detached runs it)`,
    );
    return null;
  }
  if (!fs.existsSync(binary)) throw new Error("dist/mailspool is missing: npm run build");
  const stale = newerSource(root, binary);
  const began = Date.now();
  // the runner stays off host A's core (it mostly sleeps while measuring)
  spawnSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  installCleanup(() => {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  const scratch = tempDir(scratchBase, "mailspool-cluster-bench-");
  const payload = buildPayloads().find((p) => p.name === "json");
  payload.bodyFile = path.join(scratch, "json.body");
  fs.writeFileSync(payload.bodyFile, payload.body);
  const sink = await startSink("1", { SINK_MESSAGE_IDS: "1" });
  const rows = [];
  try {
    for (const setup of setups) {
      const t0 = Date.now();
      process.stdout.write(`cluster bench: ${setup.label}: intake… `);
      const i = await intake(setup, sink.smtpPort, payload, scratch);
      const t1 = Date.now();
      process.stdout.write(`${fmt(i.msgPerSec)} msg/s (${fmt((t1 - t0) / 1000)} s); delivery… `);
      const d = await delivery(setup, sink, payload);
      console.log(`${fmt(d.msgPerSec)} msg/s (${fmt((Date.now() - t1) / 1000)} s)`);
      rows.push({ setup, intake: i, delivery: d });
    }
  } finally {
    await stopChild(sink.child, 2_000);
    removeDir(scratch);
  }
  print(rows, (Date.now() - began) / 1000, stale);
  return rows;
}

/** "ok", or what went wrong; "capped" when the drain did not end (its 0-queued check is then not made). */
function checks(i, d) {
  const wrong = [
    ...(i.known ? [] : ["intake: not every host counted every accepted mail"]),
    ...(i.failed ? [`intake: ${i.failed} non-2xx or errors`] : []),
    ...(d.withoutId ? [`${d.withoutId} delivered without a Message-ID`] : []),
    ...(d.complete && !d.recorded ? ["queued mails left after the drain"] : []),
  ];
  return wrong.length ? `FAILED: ${wrong.join("; ")}` : d.complete ? "ok" : "capped";
}

function print(rows, seconds, stale) {
  const base = rows[0];
  const cpu = (c) => `${c.hosts.map((h) => fmt(h)).join("+")}${Number.isFinite(c.broker) ? ` / ${fmt(c.broker)}` : ""}`;
  console.log(`\n== Cluster mode on RabbitMQ: intake and delivery, one host and two (same run) ==`);
  if (stale) console.log(`  NOTE: ${stale} is newer than dist/mailspool (rebuild: npm run build)`);
  console.log(
    table(
      [
        "set-up",
        "intake msg/s",
        "× single",
        "non-2xx",
        "p99 ms",
        "CPU µs/msg hosts / broker",
        "delivery msg/s",
        "× single",
        "duplicates",
        "CPU µs/msg hosts / broker",
        "checks",
      ],
      rows.map(({ setup, intake: i, delivery: d }) => [
        setup.label,
        fmt(i.msgPerSec),
        `${(i.msgPerSec / base.intake.msgPerSec).toFixed(2)}×`,
        i.failed,
        i.p99,
        cpu(i.cpu),
        `${fmt(d.msgPerSec)}${d.complete ? "" : "*"}`,
        `${(d.msgPerSec / base.delivery.msgPerSec).toFixed(2)}×`,
        d.duplicates,
        cpu(d.cpu),
        checks(i, d),
      ]),
    ),
  );
  console.log(
    `  single = the default mode (no broker), the baseline; cluster = broker.url set, every host on its own core (A: 0, B: 1)\n` +
      `  load, sink and runner on core 1 (beside host B in the 2-host row); RabbitMQ ${brokerPid ? `(pid ${brokerPid}) ` : ""}unpinned\n` +
      `  intake: 2 KiB JSON, ${connections} connections split across the hosts, delivery paused, ${measureSeconds} s after a 1 s warm-up\n` +
      `  delivery: ${mails} mails accepted round-robin while paused, then resumed on every host; 20 workers, 5 connections per host\n` +
      `  duplicates: deliveries of a Message-ID the sink already had; * = capped at ${capSeconds} s before the drain ended\n` +
      `  checks: every host's /health counted every accepted mail queued (journal copied) and 0 queued after the drain\n` +
      `  total ${fmt(seconds)} s`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(root, "bench/cluster.mjs")) {
  runClusterBench().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
