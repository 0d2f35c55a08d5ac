// The load side of bench/smtp-intake.mjs: sends n ~4 KiB messages with `inFlight` at a
// time, over SMTP (a nodemailer pool) or as JSON over HTTP, and prints msg/s and p99.
import nodemailer from "nodemailer";

const { kind, target, n, inFlight } = JSON.parse(process.argv[2]);
const html = `<p>${"Hello from the bench. ".repeat(70)}</p>`;
const raw = Buffer.from(
  `From: app@example.com\r\nTo: r@example.com\r\nSubject: bench\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n${"x".repeat(2048)}\r\n`,
);
const json = JSON.stringify({
  title: "bench",
  content: html,
  receiver: "r@example.com",
  attachment: [{ filename: "a.bin", content: Buffer.alloc(2048, 7).toString("base64") }],
});
const transport =
  kind === "smtp"
    ? nodemailer.createTransport({
        host: "127.0.0.1",
        port: target,
        pool: true,
        maxConnections: inFlight,
        maxMessages: Infinity,
        ignoreTLS: true,
      })
    : null;

async function sendOne() {
  if (transport) return transport.sendMail({ envelope: { from: "app@example.com", to: ["r@example.com"] }, raw });
  const response = await fetch(`${target}/api/email/send`, {
    method: "POST",
    body: json,
    headers: { "content-type": "application/json" },
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  await response.arrayBuffer();
}

const latencies = [];
let next = 0;
let ok = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < n) {
      next += 1;
      const t = performance.now();
      await sendOne();
      latencies.push(performance.now() - t);
      ok += 1;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
transport?.close();
latencies.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({ ok, perSecond: ok / seconds, p99: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0) }),
);
