// One spool line ⇄ one record. A line is the record's JSON with `"crc"` as its last
// field: CRC-32C (hex) of the line's UTF-8 bytes before `,"crc"`. Decoding never throws.
import CRC32C from "crc-32/crc32c";
import type { Mail, MailId, MailState, RecipientState, Transaction } from "../types.js";

export const recordVersion = 1;

interface RecordBase {
  v: number;
  id: MailId;
  ts: string;
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

/** Stops a queued, deferred or failed mail for good. */
export interface CancelRecord extends RecordBase {
  type: "cancel";
  reason: string;
  idempotencyKey?: string;
  requestHash?: string;
}

export type SpoolRecord = AcceptedRecord | OutcomeRecord | AttemptRecord | ReplayRecord | CancelRecord;
export type NewRecord = SpoolRecord extends infer R
  ? R extends SpoolRecord
    ? Omit<R, "v" | "ts"> & { ts?: string }
    : never
  : never;

const crcMarker = ',"crc":"';

function crcHex(text: string): string {
  return (CRC32C.str(text) >>> 0).toString(16).padStart(8, "0");
}

/** The line for a record, newline included. */
export function encodeRecord(record: SpoolRecord): string {
  const json = JSON.stringify(record);
  const body = json.slice(0, -1);
  return `${body}${crcMarker}${crcHex(body)}"}\n`;
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
