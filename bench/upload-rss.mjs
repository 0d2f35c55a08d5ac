// npm run bench (last): memory per concurrent 25 MB multipart upload. The server (core 0,
// `taskset -c 0`) takes `uploads` concurrent uploads of one 25,000,000-byte attachment each
// from a Node client on core 1; its RSS is sampled every 10 ms, and the figure is
// (peak RSS during the uploads - RSS before them) / uploads, median of `rounds` rounds on
// a fresh server. Servers, in the same run:
//   relay              dist/mailspool serve, delivery paused (intake only): every upload
//                      parsed, checked and spooled (blob fsync'd, record fdatasync'd)
//   stream-to-file     bench/upload-baseline-server.ts stream: Bun.serve writing
//                      request.body to a file, no parsing — the fastest honest alternative
//   bun formData()     bench/upload-baseline-server.ts formdata: the runtime's own parser,
//                      which holds each whole body (for reference)
// Env: UPLOAD_BENCH_N (6), UPLOAD_BENCH_ROUNDS (3).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { binary, bun, root } from "./delivery/harness.mjs";
import { installCleanup, memory, spawnTracked, stopChild } from "./delivery/procs.mjs";
import { newerSource } from "./stale-binary.mjs";

const uploads = Number(process.env.UPLOAD_BENCH_N ?? 6);
const rounds = Number(process.env.UPLOAD_BENCH_ROUNDS ?? 3);
const fileBytes = 25_000_000;
installCleanup();
const stale = newerSource(root, binary);
if (stale) console.warn(`upload bench: ${stale} is newer than dist/mailspool (npm run build first)`);

const servers = {
  relay: (dir) => {
    fs.writeFileSync(path.join(dir, "app.yaml"), "server:\n  listen: 127.0.0.1:0\n");
    return [binary, ["serve", "-c", path.join(dir, "app.yaml")]];
  },
  "stream-to-file": (dir) => [bun, [path.join(root, "bench/upload-baseline-server.ts"), dir, "stream"]],
  "bun formData()": (dir) => [bun, [path.join(root, "bench/upload-baseline-server.ts"), dir, "formdata"]],
};

function start(kind, dir) {
  const [command, args] = servers[kind](dir);
  const child = spawnTracked("taskset", ["-c", "0", command, ...args], {
    cwd: dir,
    env: { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start`)), 15_000);
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const url = /"url":"(http[^"]+)"/.exec(line)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolve({ child, url });
    });
  });
}

/** The client runs on core 1 in its own process: `uploads` concurrent multipart POSTs. */
async function runClient(url, n) {
  const client = spawnTracked(
    "taskset",
    ["-c", "1", "node", path.join(root, "bench/upload-client.mjs"), JSON.stringify({ url, n, fileBytes })],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  client.stdout.on("data", (d) => (out += d));
  const { code } = await client.exited;
  if (code !== 0) throw new Error(`upload client exited with ${code}`);
  return JSON.parse(out);
}

async function measure(kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-upload-bench-"));
  try {
    const server = await start(kind, dir);
    if (kind === "relay") await fetch(`${server.url}/admin/pause`, { method: "POST" });
    await runClient(server.url, 1); // warm-up: code paths, the first blob, the heap's first growth
    await sleep(500);
    const before = memory(server.child.pid).rssMiB;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, memory(server.child.pid).rssMiB)), 10);
    const started = performance.now();
    const client = await runClient(server.url, uploads);
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    await stopChild(server.child);
    return {
      kind,
      before,
      peak,
      perUpload: (peak - before) / uploads,
      seconds,
      ok: client.ok,
      statuses: client.statuses,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rows = [];
for (const kind of Object.keys(servers)) {
  const runs = [];
  for (let r = 0; r < rounds; r++) runs.push(await measure(kind));
  rows.push({ kind, runs });
}

console.log(
  `\n== Upload memory: ${uploads} concurrent multipart uploads of a ${fileBytes / 1e6} MB file (server on core 0, client on core 1; median of ${rounds}) ==`,
);
console.log("server           RSS before MiB  peak MiB  MiB per upload  seconds  2xx");
for (const { kind, runs } of rows) {
  const pick = (key) => median(runs.map((r) => r[key]));
  console.log(
    `${kind.padEnd(15)}  ${pick("before").toFixed(0).padStart(14)}  ${pick("peak").toFixed(0).padStart(8)}  ${pick("perUpload").toFixed(1).padStart(14)}  ${pick("seconds").toFixed(2).padStart(7)}  ${runs.map((r) => `${r.ok}/${uploads}`).join(" ")}`,
  );
}
