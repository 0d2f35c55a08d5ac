// npm run bench (the spool index, issue 12): memory and start-up against history, and
// status lookups of finished mails, each beside its baseline from the same run.
//
// Each scenario fills a fresh data dir with bench/delivery/make-spool.ts (real records,
// the project's own encodeRecord), then starts the single executable pinned to core 0
// (`taskset -c 0 dist/mailspool serve`, delivery paused so nothing changes under us):
//   first start   no index yet: the index is built from every record (what an upgrade does once)
//   restart       the index is there: start-up folds only what it has not seen
// and reports, for each start, the time from spawn to the "mailspool listening" line and
// VmRSS right then. Baseline: the time to read the same segment files once and count their
// lines (taskset -c 0 node bench/read-once.mjs), page cache as warm as the relay's.
// For sent mails it also measures, from a client on core 1, sequential status lookups
// (GET /api/email/:id) of 2,000 random finished mails and 200 list pages by recipient
// (GET /api/email?recipient=…): p50 / p99 latency.
//
// Then, the server stopped, the CLI's readers on the same spool: `spool ls`, `spool show <id>`
// (a random finished mail) and `spool stat`, each under /usr/bin/time -v pinned to core 0
// (wall time, peak RSS). INDEX_BENCH_BEFORE=<binary> times another build's binary too, on
// the same spool in the same run (main's, to compare).
//
// Scenarios: queued 100,000 (one record each), sent 100,000 and sent 1,000,000 (three
// records each: accepted, outcome, attempt). INDEX_BENCH_SCENARIOS=queued100k,sent100k,sent1m
// picks some. Temp dirs are removed at the end (--keep leaves them).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const binary = path.join(root, "dist/mailspool");
const bun = path.join(root, "node_modules/.bin/bun");
const keep = process.argv.includes("--keep");
const all = {
  queued100k: { mails: 100_000, sent: false },
  sent100k: { mails: 100_000, sent: true },
  sent1m: { mails: 1_000_000, sent: true },
};
const before = process.env.INDEX_BENCH_BEFORE;
const picked = (process.env.INDEX_BENCH_SCENARIOS ?? Object.keys(all).join(",")).split(",");

const config = `# written by bench/index.mjs
server:
  listen: "127.0.0.1:0"
spool:
  dir: ./data
log:
  level: info
`;

function makeSpool(dir, mails, sent) {
  const args = ["bench/delivery/make-spool.ts", dir, String(mails), "1", ...(sent ? ["--sent"] : [])];
  const out = execFileSync(bun, args, { cwd: root, encoding: "utf8", timeout: 600_000 });
  return JSON.parse(out.trim().split("\n").at(-1));
}

function readOnce(dir) {
  const out = execFileSync("taskset", ["-c", "0", "node", path.join(root, "bench/read-once.mjs"), dir], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

const rssMiB = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
};

async function start(dir) {
  const logFile = path.join(dir, "serve.log");
  const logFd = fs.openSync(logFile, "w");
  const env = { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" };
  for (const key of ["MAILSPOOL_DATA_DIR", "MAILSPOOL_LOG_LEVEL", "MAILSPOOL_CONFIG"]) delete env[key];
  const began = performance.now();
  const child = spawn("taskset", ["-c", "0", binary, "serve", "-c", "app.yaml"], {
    cwd: dir,
    env,
    stdio: ["ignore", logFd, logFd],
  });
  fs.closeSync(logFd);
  const deadline = Date.now() + 600_000;
  for (;;) {
    const text = fs.readFileSync(logFile, "utf8");
    const line = text.split("\n").find((l) => l.includes('"msg":"mailspool listening"'));
    if (line) {
      const ms = performance.now() - began;
      const rss = rssMiB(child.pid);
      const { url } = JSON.parse(line);
      return { child, url, ms, rss };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no listening line:\n${text.slice(-2000)}`);
    await sleep(20);
  }
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** One CLI command on `bin`, server stopped: wall seconds and peak RSS (MiB), from GNU time. */
function timeCli(bin, dir, args) {
  // time's report goes to a file: the runtime makes the stderr it shares non-blocking
  const report = path.join(dir, "time.txt");
  const run = spawnSync("/usr/bin/time", ["-v", "-o", report, "taskset", "-c", "0", bin, ...args, "-c", "app.yaml"], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 900_000,
  });
  if (run.status !== 0) throw new Error(`${args.join(" ")}: exit ${run.status}\n${run.stderr}`);
  const text = fs.readFileSync(report, "utf8");
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  const s = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { s, rssMiB: Number(rss[1]) / 1024 };
}

function cliFigures(bin, dir, id) {
  return {
    ls: timeCli(bin, dir, ["spool", "ls"]),
    show: timeCli(bin, dir, ["spool", "show", id]),
    stat: timeCli(bin, dir, ["spool", "stat"]),
  };
}

const cliText = (figures) =>
  Object.entries(figures)
    .map(([command, f]) => `spool ${command} ${fmt(f.s, 2)} s ${fmt(f.rssMiB, 0)} MiB`)
    .join(", ");

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function latencies(url, paths) {
  const times = [];
  for (const p of paths) {
    const began = performance.now();
    const response = await fetch(`${url}${p}`);
    if (response.status !== 200) throw new Error(`${p}: ${response.status}`);
    await response.arrayBuffer();
    times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

function idsOf(dir, count) {
  // ids of random accepted records, read straight from the segments (copied out of the
  // file's bytes, so no id keeps a whole segment's text alive)
  const spoolDir = path.join(dir, "data/spool");
  const tag = Buffer.from('"type":"accepted","id":"');
  const ids = [];
  for (const name of fs.readdirSync(spoolDir).sort()) {
    const data = fs.readFileSync(path.join(spoolDir, name));
    for (let at = data.indexOf(tag); at >= 0; at = data.indexOf(tag, at + tag.length))
      ids.push(data.toString("latin1", at + tag.length, at + tag.length + 26));
  }
  const picked = [];
  for (let i = 0; i < count; i += 1) picked.push(ids[Math.floor(Math.random() * ids.length)]);
  return { picked, total: ids.length };
}

const fmt = (n, digits = 1) => n.toFixed(digits);
console.log(`index bench: ${os.cpus().length} CPUs; relay and read-once baseline on core 0, client on core 1`);
for (const name of picked) {
  const scenario = all[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mailspool-index-${name}-`));
  try {
    fs.writeFileSync(path.join(dir, "app.yaml"), config);
    const made = makeSpool(dir, scenario.mails, scenario.sent);
    fs.writeFileSync(path.join(dir, "data/state.json"), JSON.stringify({ paused: true }));
    const baseline = readOnce(path.join(dir, "data/spool"));
    const first = await start(dir);
    await stop(first.child);
    const again = await start(dir);
    const result = {
      name,
      mails: scenario.mails,
      records: baseline.lines,
      bytes: made.bytes,
      readOnceMs: baseline.ms,
      firstStart: { ms: first.ms, rssMiB: first.rss },
      restart: { ms: again.ms, rssMiB: again.rss },
    };
    if (scenario.sent) {
      const { picked: ids } = idsOf(dir, 2000);
      result.status = await latencies(
        again.url,
        ids.map((id) => `/api/email/${id}`),
      );
      const recipients = Array.from({ length: 200 }, () => Math.floor(Math.random() * scenario.mails));
      result.byRecipient = await latencies(
        again.url,
        recipients.map((i) => `/api/email?recipient=r${i}@example.com&limit=50`),
      );
      result.afterLookupsRssMiB = rssMiB(again.child.pid);
    }
    await stop(again.child);
    const someId = idsOf(dir, 1).picked[0];
    result.cli = cliFigures(binary, dir, someId);
    if (before) result.cliBefore = cliFigures(before, dir, someId);
    console.log(
      `  ${name.padEnd(10)} ${result.records.toLocaleString("en")} records (${fmt(made.bytes / 2 ** 20, 0)} MiB): ` +
        `read once ${fmt(baseline.ms / 1000, 2)} s | first start (builds the index) ${fmt(first.ms / 1000, 2)} s, ` +
        `RSS ${fmt(first.rss, 0)} MiB | restart ${fmt(again.ms / 1000, 2)} s, RSS ${fmt(again.rss, 0)} MiB` +
        (result.status
          ? ` | status p50 ${fmt(result.status.p50, 2)} ms p99 ${fmt(result.status.p99, 2)} ms; ` +
            `by recipient p50 ${fmt(result.byRecipient.p50, 2)} ms p99 ${fmt(result.byRecipient.p99, 2)} ms; ` +
            `RSS after lookups ${fmt(result.afterLookupsRssMiB, 0)} MiB`
          : ""),
    );
    console.log(`  ${"".padEnd(10)} CLI, server stopped: ${cliText(result.cli)}`);
    if (result.cliBefore) console.log(`  ${"".padEnd(10)} CLI of ${before}: ${cliText(result.cliBefore)}`);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
