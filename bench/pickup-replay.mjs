// Replaying N failed mails by hand (npm run bench; default N = 20,000, REPLAY_BENCH_N to
// change): how long the operator's side takes to write the requests and how long until the
// server has ingested every one, for three ways, each on a fresh copy of the same failed spool
// and the server (dist/mailspool, core 0, delivery paused so only ingestion runs):
//
//   one file per mail  what `mailspool replay --failed` did before batch files
//                      (bench/pickup-replay-old-cli.ts, core 1): the spool read, then N files
//                      {"replay": "<id>"}, each with its fsyncs; the server ingests each with
//                      its own append and fdatasync
//   batch files        `mailspool replay --failed --no-wait` (core 1): the spool read, the
//                      pre-check, N / 1,000 batch files; the server appends each file's
//                      records together (group commit)
//   raw append         the floor: the same N replay records appended in one process through the
//                      spool's writer, all awaited together (bench/pickup-append.ts, core 0)
//
// "until ingested" runs from the start of writing until pickup/ holds no *.json once the writer
// is done. The server logs at its default level (info), as in production. Each way's result
// is checked afterwards: every mail has exactly one replay record.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { binary, bun, makeSpool, root } from "./delivery/harness.mjs";
import { installCleanup, spawnTracked, stopChild } from "./delivery/procs.mjs";

const n = Number(process.env.REPLAY_BENCH_N ?? 20_000);

installCleanup();
const pin = (cpu, command, args) =>
  spawnSync("taskset", ["--version"]).status === 0
    ? ["taskset", ["-c", String(cpu), command, ...args]]
    : [command, args];

function acceptedIds(dir) {
  const spoolDir = path.join(dir, "data/spool");
  return fs
    .readdirSync(spoolDir)
    .flatMap((f) => fs.readFileSync(path.join(spoolDir, f), "utf8").split("\n"))
    .filter((l) => l.includes('"type":"accepted"'))
    .map((l) => /"id":"([0-9A-Z]{26})"/.exec(l)[1]);
}

function copyOf(template, label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mailspool-replay-bench-${label}-`));
  fs.cpSync(path.join(template, "data"), path.join(dir, "data"), { recursive: true });
  fs.writeFileSync(path.join(dir, "data/state.json"), JSON.stringify({ paused: true }));
  return dir;
}

async function startServer(dir) {
  const [command, args] = pin(0, binary, ["serve"]);
  const child = spawnTracked(command, args, {
    cwd: dir,
    env: { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("relay did not start")), 60_000);
    // logs at the default level, as in production; read (and dropped) so the pipe never fills
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.includes('"msg":"mailspool listening"')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return child;
}

/**
 * Once the writer is done: waits until pickup/ holds no *.json. A file is removed only after
 * its records are durable, so that is when everything was ingested; the seconds since `t0`.
 */
async function untilIngested(dir, t0) {
  const pickup = path.join(dir, "data/pickup");
  while (fs.readdirSync(pickup).some((f) => f.endsWith(".json"))) await sleep(20);
  return (performance.now() - t0) / 1000;
}

function checkOncePerMail(dir, ids) {
  const spoolDir = path.join(dir, "data/spool");
  const seen = new Map();
  for (const f of fs.readdirSync(spoolDir))
    for (const line of fs.readFileSync(path.join(spoolDir, f), "utf8").split("\n"))
      if (line.includes('"type":"replay"')) {
        const id = /"id":"([0-9A-Z]{26})"/.exec(line)[1];
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
  const wrong = ids.filter((id) => seen.get(id) !== 1).length;
  if (wrong || seen.size !== ids.length) throw new Error(`${wrong} mail(s) not replayed exactly once`);
}

async function viaServer(template, ids, label, write) {
  const dir = copyOf(template, label.split(" ")[0]);
  try {
    const server = await startServer(dir);
    const t0 = performance.now();
    await write(dir);
    const writeSeconds = (performance.now() - t0) / 1000;
    const ingestedSeconds = await untilIngested(dir, t0);
    await stopChild(server);
    checkOncePerMail(dir, ids);
    return { label, writeSeconds, ingestedSeconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function run(cpu, command, args, cwd) {
  const [c, a] = pin(cpu, command, args);
  execFileSync(c, a, { cwd, stdio: ["ignore", "ignore", "inherit"], timeout: 30 * 60_000 });
}

const template = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-replay-bench-"));
try {
  makeSpool(template, n, 1, false, false, true);
  const ids = acceptedIds(template);
  console.error(`replay bench: ${n} failed mails`);
  const rows = [];
  rows.push(
    await viaServer(template, ids, "batch files (mailspool replay --failed)", async (dir) =>
      run(1, binary, ["replay", "--failed", "--no-wait"], dir),
    ),
  );
  rows.push(
    await viaServer(template, ids, "one file per mail (before)", async (dir) =>
      run(1, bun, [path.join(root, "bench/pickup-replay-old-cli.ts"), dir], dir),
    ),
  );
  const rawDir = copyOf(template, "raw");
  try {
    const [c, a] = pin(0, bun, [path.join(root, "bench/pickup-append.ts"), rawDir]);
    const raw = JSON.parse(execFileSync(c, a, { cwd: root, encoding: "utf8" }).trim().split("\n").at(-1));
    checkOncePerMail(rawDir, ids);
    rows.push({
      label: `raw append (floor; ${raw.batches} group commits)`,
      writeSeconds: NaN,
      ingestedSeconds: raw.ms / 1000,
    });
  } finally {
    fs.rmSync(rawDir, { recursive: true, force: true });
  }
  const floor = rows.at(-1).ingestedSeconds;
  const fmt = (s) => (Number.isNaN(s) ? "—" : s.toFixed(2));
  console.log(`\nReplay of ${n} failed mails (server on core 0, writer on core 1, delivery paused)\n`);
  console.log("| way | write s | until all ingested s | × raw append |");
  console.log("|---|---:|---:|---:|");
  for (const r of rows)
    console.log(
      `| ${r.label} | ${fmt(r.writeSeconds)} | ${fmt(r.ingestedSeconds)} | ${(r.ingestedSeconds / floor).toFixed(1)} |`,
    );
} finally {
  fs.rmSync(template, { recursive: true, force: true });
}
