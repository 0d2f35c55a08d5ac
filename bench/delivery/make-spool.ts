// Pre-fills a data directory with N "accepted" records, exactly as intake would have
// written them (the project's own encodeRecord, so the crc and field order are real):
//
//   node_modules/.bin/bun bench/delivery/make-spool.ts <dir> <n> <recipients> [--attachment] [--text]
//
// writes <dir>/data/spool/000001.jsonl (and 000002.jsonl … past 64 MiB, the segment
// writer's default rotation size, so a big spool looks like one intake would leave),
// fsyncs it, and prints one JSON line {mails, recipients, bytes, segments, ms}.
// Each mail: the bench subject, a ~1.5 KiB HTML body, no text part (intake stores none
// unless the client sends one), `recipients` addresses r{i}@example.com, a unique ULID,
// messageId <id>@example.org, and with --attachment one 2 KiB file inline (base64).
// --text (analysis only) stores the text part too (what the relay would derive:
// html-to-text, wordwrap 100), as if the client had sent `text`: the relay then skips its
// per-mail HTML → text conversion. --failed follows each accepted record with an attempt
// record that ended `failed` (its recipients become failed-transient): a failed spool for
// the replay bench (bench/pickup-replay.mjs). --sent follows it with the outcome (every
// recipient sent) and the attempt that ended `sent`: history for the index bench (bench/index.mjs).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { convert } from "html-to-text";
import { ulid } from "ulid";
import {
  encodeRecord,
  recordVersion,
  type AcceptedRecord,
  type AttemptRecord,
  type OutcomeRecord,
} from "../../src/spool/record.js";
import type { AttachmentRef, Mail } from "../../src/types.js";
import { attachmentName, attachmentType, fileBytes, html, recipientsOf, subject } from "./content.js";

const [dir, nArg, perArg, ...flags] = process.argv.slice(2);
const n = Number(nArg);
const per = Number(perArg);
if (!dir || !Number.isInteger(n) || n < 1 || !Number.isInteger(per) || per < 1 || per > 100) {
  console.error(
    "usage: bun bench/delivery/make-spool.ts <dir> <n> <recipients 1..100> [--attachment] [--text] [--failed]",
  );
  process.exit(2);
}
const withAttachment = flags.includes("--attachment");
const withText = flags.includes("--text");
const failed = flags.includes("--failed");
const sent = flags.includes("--sent");
const segmentMaxBytes = 64 * 1024 * 1024;

const started = performance.now();
const spoolDir = path.join(dir, "data", "spool");
fs.mkdirSync(spoolDir, { recursive: true });
for (const name of fs.readdirSync(spoolDir))
  if (name.endsWith(".jsonl")) throw new Error(`${spoolDir} already holds ${name}`);

const body = html();
const text = withText ? convert(body, { wordwrap: 100 }) : undefined;
const file = fileBytes();
const attachments: AttachmentRef[] = withAttachment
  ? [
      {
        filename: attachmentName,
        contentType: attachmentType,
        size: file.length,
        sha256: createHash("sha256").update(file).digest("hex"),
        inline: file.toString("base64"),
      },
    ]
  : [];
const base = Date.now() - n; // accepted over the last n ms, oldest first
const ids = new Set<string>();

let segment = 0;
let fd = -1;
let segmentBytes = 0;
let totalBytes = 0;
let chunk: string[] = [];
let chunkBytes = 0;

function openSegment(): void {
  if (fd >= 0) closeSegment();
  segment += 1;
  fd = fs.openSync(path.join(spoolDir, `${String(segment).padStart(6, "0")}.jsonl`), "wx");
  segmentBytes = 0;
}
function flushChunk(): void {
  if (chunk.length === 0) return;
  const data = Buffer.from(chunk.join(""));
  fs.writeSync(fd, data, 0, data.length);
  chunk = [];
  chunkBytes = 0;
}
function closeSegment(): void {
  flushChunk();
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fd = -1;
}

openSegment();
for (let i = 0; i < n; i++) {
  const id = ulid();
  if (ids.has(id)) throw new Error(`duplicate ulid ${id}`);
  ids.add(id);
  const mail: Mail = {
    subject,
    html: body,
    to: recipientsOf(i, per).map((address) => ({ address })),
    cc: [],
    bcc: [],
    attachments,
    messageId: `<${id}@example.org>`,
  };
  if (text !== undefined) mail.text = text;
  const record: AcceptedRecord = {
    v: recordVersion,
    type: "accepted",
    id,
    ts: new Date(base + i).toISOString(),
    client: "ip:127.0.0.1",
    mail,
  };
  const attempt: AttemptRecord = { v: recordVersion, type: "attempt", id, ts: record.ts, attempt: 1, state: "failed" };
  const delivered: OutcomeRecord = {
    v: recordVersion,
    type: "outcome",
    id,
    ts: record.ts,
    attempt: 1,
    transaction: {
      upstream: "sink",
      envelope: { from: "bench@example.org", to: mail.to.map((a) => a.address) },
      code: 250,
      response: "250 2.0.0 queued",
    },
    recipients: mail.to.map((a) => ({ address: a.address, state: "sent" as const })),
  };
  const line =
    encodeRecord(record) +
    (failed ? encodeRecord(attempt) : "") +
    (sent ? encodeRecord(delivered) + encodeRecord({ ...attempt, state: "sent" }) : "");
  const bytes = Buffer.byteLength(line);
  // the writer rotates once a segment has reached its max size
  if (segmentBytes >= segmentMaxBytes) openSegment();
  chunk.push(line);
  chunkBytes += bytes;
  segmentBytes += bytes;
  totalBytes += bytes;
  if (chunkBytes >= 4 * 1024 * 1024) flushChunk();
}
closeSegment();
const dirFd = fs.openSync(spoolDir, "r");
fs.fsyncSync(dirFd);
fs.closeSync(dirFd);

console.log(
  JSON.stringify({
    mails: n,
    recipients: n * per,
    attachment: withAttachment,
    text: withText,
    bytes: totalBytes,
    segments: segment,
    ms: Math.round(performance.now() - started),
  }),
);
