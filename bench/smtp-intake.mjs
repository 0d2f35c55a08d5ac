// SMTP intake throughput (npm run bench, after the HTTP benches): the relay (dist/mailspool,
// core 0, delivery paused so only intake runs) takes N messages over SMTP from a nodemailer
// pool on core 1, and, in the same run, the same messages as JSON over HTTP for reference.
// Every acknowledged message is checked against the spool's accepted records.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { binary, root } from "./delivery/harness.mjs";
import { installCleanup, memory, spawnTracked, stopChild } from "./delivery/procs.mjs";
import { countSpool } from "./delivery/spool-count.mjs";

const n = Number(process.env.SMTP_BENCH_N ?? 4000);
const inFlight = Number(process.env.SMTP_BENCH_INFLIGHT ?? 50);
installCleanup();

function startRelay(dir) {
  fs.writeFileSync(
    path.join(dir, "app.yaml"),
    ["smtpIntake:", "  enabled: true", '  listen: "127.0.0.1:0"', "  requireAuth: false", ""].join("\n"),
  );
  const child = spawnTracked("taskset", ["-c", "0", binary, "serve", "-c", path.join(dir, "app.yaml")], {
    cwd: dir,
    env: { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("relay did not start")), 15_000);
    lines.on("line", (line) => {
      if (!line.includes('"mailspool listening"')) return;
      clearTimeout(timer);
      const { url, smtp } = JSON.parse(line);
      resolve({ child, url, smtpPort: Number(smtp.split(":").pop()) });
    });
  });
}

/** Runs the client on core 1 and returns its figures. */
function runClient(kind, target) {
  const client = spawnTracked(
    "taskset",
    ["-c", "1", "node", path.join(root, "bench/smtp-intake-client.mjs"), JSON.stringify({ kind, target, n, inFlight })],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  client.stdout.on("data", (d) => (out += d));
  return client.exited.then(() => JSON.parse(out));
}

const rows = [];
for (const kind of ["smtp", "http"]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mailspool-smtp-bench-${kind}-`));
  try {
    const relay = await startRelay(dir);
    await fetch(`${relay.url}/admin/pause`, { method: "POST" });
    const result = await runClient(kind, kind === "smtp" ? relay.smtpPort : relay.url);
    const accepted = countSpool(path.join(dir, "data/spool")).byType.accepted ?? 0;
    const mem = memory(relay.child.pid);
    await stopChild(relay.child);
    rows.push({
      kind,
      ...result,
      accepted,
      rssMiB: mem.rssMiB,
      hwmMiB: mem.hwmMiB,
      check: accepted === result.ok ? "ok" : "MISMATCH",
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `\n== SMTP intake vs HTTP JSON intake (same run; relay on core 0, delivery paused; ${n} messages, ${inFlight} in flight) ==`,
);
console.log("intake  msg/s   p99 ms  acknowledged  accepted lines  check  RSS/HWM MiB");
for (const r of rows)
  console.log(
    `${r.kind.padEnd(6)}  ${String(Math.round(r.perSecond)).padStart(5)}  ${String(r.p99).padStart(7)}  ${String(r.ok).padStart(12)}  ${String(r.accepted).padStart(14)}  ${r.check.padEnd(5)}  ${Math.round(r.rssMiB)}/${Math.round(r.hwmMiB)}`,
  );
const [smtp, http] = rows;
if (smtp && http) console.log(`smtp/http ratio: ${(smtp.perSecond / http.perSecond).toFixed(2)}`);
