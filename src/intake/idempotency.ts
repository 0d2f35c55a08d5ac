// Idempotency-Key (SPEC "HTTP API"): scoped per client, remembered only for a 200 (the
// key and a hash of the request live in the accepted record, so they survive restarts),
// for 24 h. A repeat with the same request gets the first answer and queues nothing; a
// different request under the same key gets 409; a repeat while the first is still in
// flight waits for it.
import { createHash } from "node:crypto";
import { MailspoolError, invalidField } from "../errors.js";
import type { MailIndex } from "../spool/mail-index.js";
import type { MailId } from "../types.js";
import type { SendInput } from "./send-request.js";

export const idempotencyWindowMs = 24 * 3600 * 1000;
const sendFields = ["title", "content", "text", "sender_name", "receiver", "receiver_name", "cc", "bcc", "reply_to"];
const extraFields = ["template", "variables", "send_at", "headers", "tags", "metadata"];

/** The same normalised fields and the same attachment sha256s give the same hash, whatever the encoding. */
export function requestHash(input: SendInput): string {
  const fields = sendFields.map((name) => [name, normalised(name, input.fields[name])]);
  // the extras count only when given, so a request without them hashes as it always did
  for (const name of extraFields)
    if (input.fields[name] !== undefined) fields.push([name, normalised(name, input.fields[name])]);
  const files = input.files.map((f) => [f.filename, f.contentType, f.sha256]);
  return createHash("sha256").update(JSON.stringify({ fields, files })).digest("hex");
}

/** Fields a form sends as JSON text and a JSON body as the value itself. */
const jsonTextFields = new Set(["variables", "headers", "metadata"]);

/** Trimmed strings; `variables`, `headers` and `metadata` as the value they name, whether sent as JSON or as a form field's JSON text. */
function normalised(name: string, value: unknown): unknown {
  if (typeof value !== "string") return value ?? null;
  if (!jsonTextFields.has(name)) return value.trim();
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

export function scopedKey(client: string, header: string): string {
  if (header.length === 0 || header.length > 256 || /[\0-\x1f]/.test(header))
    throw invalidField("Idempotency-Key", "must be 1 to 256 printable characters");
  return `${client}|${header}`;
}

export class Idempotency {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly index: MailIndex,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `accept` unless the key already answered; returns the mail id and whether it is a repeat. */
  async run(key: string, hash: string, accept: () => Promise<MailId>): Promise<{ id: MailId; repeated: boolean }> {
    while (this.inFlight.has(key)) await this.inFlight.get(key);
    const earlier = this.index.byIdempotencyKey(key, new Date(this.now() - idempotencyWindowMs));
    if (earlier) {
      if (this.index.get(earlier)?.requestHash !== hash)
        throw new MailspoolError("conflict", "Idempotency-Key was already used for a different request");
      return { id: earlier, repeated: true };
    }
    const accepting = accept();
    this.inFlight.set(
      key,
      accepting.catch(() => undefined),
    );
    try {
      return { id: await accepting, repeated: false };
    } finally {
      this.inFlight.delete(key);
    }
  }
}
