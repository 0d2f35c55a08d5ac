// Batch bench: 2000 mails into the relay (delivery paused, so only intake runs) as one
// POST /api/email/send per mail (1 client; 8 concurrent clients) against POST /api/email/batch
// with 100 mails each (1 client; 4 concurrent), two rounds; then the fsync batch counts.
//
//   flock /tmp/bench.lock node bench/batch.mjs [path/to/mailspool]     (default dist/mailspool)
//   NO_BATCH=1 …  the send rows only (for a build without the batch endpoint)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
const bin = process.argv[2] ?? new URL("../dist/mailspool", import.meta.url).pathname;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ob-bench-"));
fs.writeFileSync(path.join(dir, "app.yaml"), "server:\n  listen: 127.0.0.1:0\n");
const child = spawn(bin, ["serve"], { cwd: dir, env: { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" } });
let out = "";
const url = await new Promise((resolve) => {
  const on = (c) => {
    out += c;
    const m = /"url":"(http[^"]+)"/.exec(out);
    if (m) resolve(m[1]);
  };
  child.stdout.on("data", on);
  child.stderr.on("data", on);
});
await fetch(`${url}/admin/pause`, { method: "POST" });
const mail = (n) => ({ title: `bench ${n}`, content: `<p>${n}</p>`, receiver: `r${n % 50}@example.com` });
const post = async (p, body) => {
  const r = await fetch(url + p, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (r.status !== 200) throw new Error(await r.text());
  await r.arrayBuffer();
};
const total = 2000;
async function run(name, fn) {
  const t = performance.now();
  await fn();
  const s = (performance.now() - t) / 1000;
  console.log(`${name}: ${total} mails in ${s.toFixed(2)} s = ${Math.round(total / s)} mails/s`);
}
async function pool(n, jobs) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < jobs.length) await jobs[i++]();
    }),
  );
}
for (let round = 0; round < 2; round++) {
  await run("send, 1 client       ", () =>
    pool(
      1,
      Array.from({ length: total }, (_, i) => () => post("/api/email/send", JSON.stringify(mail(i)))),
    ),
  );
  await run("send, 8 clients      ", () =>
    pool(
      8,
      Array.from({ length: total }, (_, i) => () => post("/api/email/send", JSON.stringify(mail(i)))),
    ),
  );
  if (process.env.NO_BATCH) continue;
  const batches = Array.from({ length: total / 100 }, (_, b) =>
    JSON.stringify(Array.from({ length: 100 }, (_, i) => mail(b * 100 + i))),
  );
  await run("batch of 100, 1 client", () =>
    pool(
      1,
      batches.map((b) => () => post("/api/email/batch", b)),
    ),
  );
  await run("batch of 100, 4 clients", () =>
    pool(
      4,
      batches.map((b) => () => post("/api/email/batch", b)),
    ),
  );
}
const metrics = await (await fetch(`${url}/metrics`)).text();
console.log(
  metrics
    .split("\n")
    .filter((l) => /fsync_batch_lines_(sum|count)/.test(l))
    .join("\n"),
);
child.kill("SIGTERM");
await new Promise((r) => child.once("close", r));
fs.rmSync(dir, { recursive: true, force: true });
