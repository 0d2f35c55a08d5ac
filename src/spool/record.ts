// One spool line ⇄ one record. A line is the record's JSON with `"crc"` as its last
// field: CRC-32C (hex) of the line's UTF-8 bytes before `,"crc"`. Decoding never throws.
import CRC32C from "crc-32/crc32c";
import type { Mail, MailId, MailState, RecipientState, Transaction } from "../types.js";

export const recordVersion = 1;

interface RecordBase {
  v: number;
  id: MailId;
  ts: string;
  /** Cluster mode: a record another host wrote, copied from the broker's journal (its host and position there). */
  via?: RecordOrigin;
}

/** Where a copied record was first written: the host's id and the record's position in its spool (cluster/positions.ts). */
export interface RecordOrigin {
  host: string;
  pos: number;
}

export interface AcceptedRecord extends RecordBase {
  type: "accepted";
  client: string;
  mail: Mail;
  /** Idempotency-Key (HTTP, scoped by client) or pickup file name. */
  idempotencyKey?: string;
  /**
   * What tells "the same request" under the key: with an HTTP Idempotency-Key a hash of the
   * normalised fields and attachment sha256s; from a pickup file the sha256 (hex) of its bytes.
   */
  requestHash?: string;
}

/** One transaction of an attempt, appended as soon as the upstream answered. */
export interface OutcomeRecord extends RecordBase {
  type: "outcome";
  attempt: number;
  transaction: Transaction;
  /** `error`: this recipient's own reply when it differs from the transaction's (a RCPT rejection). */
  recipients: { address: string; state: RecipientState; error?: string }[];
}

/** The end of an attempt: the mail's state after it, and when the next one is due. */
export interface AttemptRecord extends RecordBase {
  type: "attempt";
  attempt: number;
  state: MailState;
  nextAttemptAt?: string;
  error?: string;
}

/** Back to the queue for the named (else every not-yet-sent) recipients, with a fresh retry budget. */
export interface ReplayRecord extends RecordBase {
  type: "replay";
  recipients: string[];
  /** Attempts this replay allows (the rescan gives one); absent = retry.attempts. */
  attempts?: number;
  reason: string;
  /** The pickup file it came from, so a crash before the file is removed cannot replay twice. */
  idempotencyKey?: string;
  /** The sha256 (hex) of that file's bytes: a different file under the same name is refused, not dropped. */
  requestHash?: string;
}

/** Stops a scheduled, queued, deferred or failed mail for good. */
export interface CancelRecord extends RecordBase {
  type: "cancel";
  reason: string;
  idempotencyKey?: string;
  requestHash?: string;
  /** The mail's own Idempotency-Key, freed: intake answered 503 (cluster mode, no broker confirm), so a repeat is a new mail. */
  releasesKey?: string;
}

/**
 * An event webhook's life (id: the mail's): `created` holds the subscription's URL and the
 * payload to POST, then `delivered` (a 2xx) or `given-up` (too old, or no longer configured)
 * settles it. The index keeps the created ones not yet settled, so a restart resumes them.
 */
export interface WebhookRecord extends RecordBase {
  type: "webhook";
  /** The event's id: the `webhook-id` header, the same on every try. */
  event: string;
  status: "created" | "delivered" | "given-up";
  /** created: where it goes and what it carries. */
  url?: string;
  payload?: unknown;
  /** given-up: why. */
  error?: string;
}

export type SpoolRecord = AcceptedRecord | OutcomeRecord | AttemptRecord | ReplayRecord | CancelRecord | WebhookRecord;
export type NewRecord = SpoolRecord extends infer R
  ? R extends SpoolRecord
    ? Omit<R, "v" | "ts"> & { ts?: string }
    : never
  : never;

const crcMarker = ',"crc":"';

// The CRC is taken over the text's UTF-8 bytes, encoded into one reused scratch buffer (the
// library's string variant walks UTF-16 code units one by one and is several times slower)
const encoder = new TextEncoder();
let scratch = Buffer.allocUnsafe(64 * 1024);

/** The UTF-8 bytes of `text`, as a view of the scratch buffer (valid until the next call). */
function utf8Scratch(text: string): Buffer {
  let { read, written } = encoder.encodeInto(text, scratch);
  if (read! < text.length) {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    scratch = Buffer.allocUnsafe(Math.max(text.length * 3, scratch.length * 2));
    ({ written } = encoder.encodeInto(text, scratch));
  }
  return scratch.subarray(0, written);
}

function crcHexOf(bytes: Uint8Array): string {
  return (CRC32C.buf(bytes) >>> 0).toString(16).padStart(8, "0");
}

function crcHex(text: string): string {
  return crcHexOf(utf8Scratch(text));
}

/** The line for a record as UTF-8 bytes, newline included: what the segment writer writes. */
export function encodeRecordBytes(record: SpoolRecord): Buffer {
  const json = utf8Scratch(JSON.stringify(record));
  // the closing brace gives way to the CRC member, taken over everything before it
  const body = json.subarray(0, json.length - 1);
  const tail = `${crcMarker}${crcHexOf(body)}"}\n`;
  const bytes = Buffer.allocUnsafe(body.length + tail.length);
  body.copy(bytes, 0);
  bytes.write(tail, body.length, "latin1");
  return bytes;
}

/** The line for a record, newline included. */
export function encodeRecord(record: SpoolRecord): string {
  return encodeRecordBytes(record).toString("utf8");
}

export type DecodeResult =
  | { ok: true; record: SpoolRecord }
  | { ok: false; reason: "checksum" | "syntax" | "shape" | "version"; detail: string };

/** Decodes one line (without its newline). */
export function decodeRecord(line: string): DecodeResult {
  const at = line.lastIndexOf(crcMarker);
  if (at < 0 || !line.endsWith('"}') || line.length !== at + crcMarker.length + 10) {
    return { ok: false, reason: "checksum", detail: "no crc field at the end of the line" };
  }
  const body = line.slice(0, at);
  const crc = line.slice(at + crcMarker.length, -2);
  if (crcHex(body) !== crc) return { ok: false, reason: "checksum", detail: "crc mismatch" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return { ok: false, reason: "syntax", detail: (error as Error).message };
  }
  // the version first: a newer record may have a shape this version does not know
  const version = (parsed as { v?: unknown } | null)?.v;
  if (typeof version === "number" && version > recordVersion) {
    return {
      ok: false,
      reason: "version",
      detail: `record version ${version} is newer than this mailspool (${recordVersion})`,
    };
  }
  if (!isRecordShape(parsed)) return { ok: false, reason: "shape", detail: "missing v, type, id or ts" };
  const { crc: _crc, ...record } = parsed as SpoolRecord & { crc: string };
  return { ok: true, record: record as SpoolRecord };
}

function isRecordShape(value: unknown): value is SpoolRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.v === "number" && typeof r.type === "string" && typeof r.id === "string" && typeof r.ts === "string";
}
