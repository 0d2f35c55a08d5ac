// The baseline of the delivery bench: a plain app sending the same mails straight through
// a pooled nodemailer transport, in the same runtime as the relay (Bun; the runner pins it
// to core 0, like the relay):
//
//   taskset -c 0 node_modules/.bin/bun bench/delivery/raw-pool.mjs '<json job>'
//
// job: {host, port, n, recipients, concurrency, maxConnections, attachment, maxSeconds}.
// Every message is an ordinary sendMail({from, to, subject, html, text, messageId, …}),
// so nodemailer builds the MIME per message as a normal app would; the text part is the
// one the relay derives from the HTML (html-to-text, wordwrap 100), converted ONCE here,
// as an app holding both bodies would. At most `concurrency` sendMail calls are in flight.
// Prints one JSON line: {sent, failed, recipients, ms, msgPerSec, cpuSeconds, sendCpuSeconds, maxRssMiB, firstError}
// (cpuSeconds covers the whole process, start-up included).
import { convert } from "html-to-text";
import nodemailer from "nodemailer";
import { ulid } from "ulid";
import { attachmentName, attachmentType, fileBytes, from, html, recipientsOf, subject } from "./content.ts";

const job = JSON.parse(process.argv[2] ?? "{}");
const {
  host = "127.0.0.1",
  port,
  n = 1000,
  recipients: per = 1,
  concurrency = 50,
  maxConnections = 5,
  attachment = false,
  maxSeconds = 60,
} = job;
if (!port) {
  console.error("raw-pool: job needs a port");
  process.exit(2);
}

const body = html();
const text = convert(body, { wordwrap: 100 });
const file = fileBytes();

const transport = nodemailer.createTransport({
  pool: true,
  host,
  port,
  secure: false,
  ignoreTLS: true,
  maxConnections,
  maxMessages: Number.POSITIVE_INFINITY,
  connectionTimeout: 30_000,
  greetingTimeout: 30_000,
  socketTimeout: 120_000,
  disableFileAccess: true,
  disableUrlAccess: true,
  logger: false,
});

let next = 0;
let sent = 0;
let failed = 0;
let accepted = 0;
let firstError = null;
const cpuStart = process.cpuUsage();
const started = performance.now();
const deadline = started + maxSeconds * 1000;

async function lane() {
  while (next < n && performance.now() < deadline) {
    const i = next++;
    const id = ulid();
    try {
      const info = await transport.sendMail({
        from,
        to: recipientsOf(i, per),
        subject,
        html: body,
        text,
        messageId: `<${id}@example.org>`,
        attachments: attachment
          ? [{ filename: attachmentName, contentType: attachmentType, content: file }]
          : undefined,
      });
      sent += 1;
      accepted += info.accepted.length;
    } catch (error) {
      failed += 1;
      firstError ??= String(error?.message ?? error);
    }
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
const ms = performance.now() - started;
transport.close();
const cpu = process.cpuUsage();
const cpuSeconds = { user: cpu.user / 1e6, sys: cpu.system / 1e6 };
const sendCpu = process.cpuUsage(cpuStart);
const sendCpuSeconds = { user: sendCpu.user / 1e6, sys: sendCpu.system / 1e6 };
process.stdout.write(
  `${JSON.stringify({ sent, failed, recipients: accepted, ms: Math.round(ms), msgPerSec: (sent / ms) * 1000, cpuSeconds, sendCpuSeconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, firstError })}\n`,
);
process.exit(0);
