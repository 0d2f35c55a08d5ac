// Idempotency-Key (SPEC "HTTP API"): scoped per client, remembered only for a 200 (the
// key and a hash of the request live in the accepted record, so they survive restarts),
// for 24 h. A repeat with the same request gets the first answer and queues nothing; a
// different request under the same key gets 409; a repeat while the first is still in
// flight waits for it. In cluster mode a key may be found on a mail another host accepted a
// moment ago and may still cancel (its broker did not confirm the work: that host answers 503
// and frees the key); such a repeat first waits until that host has settled it.
import { createHash } from "node:crypto";
import { decodeTime } from "ulid";
import { z } from "zod";
import { MailspoolError, invalidField } from "../errors.js";
import type { KeyUse, MailIndex } from "../spool/mail-index.js";
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

/** The Idempotency-Key header's value. */
export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\0-\x1f]*$/)
  .meta({ description: "Repeat within 24 h: the first answer, nothing queued again (per client)" });

export function scopedKey(client: string, header: string): string {
  if (!idempotencyKeySchema.safeParse(header).success)
    throw invalidField("Idempotency-Key", "must be 1 to 256 printable characters");
  return `${client}|${header}`;
}

/** The hash of a batch: its mails' request hashes in order. */
export function batchHash(inputs: SendInput[]): string {
  return createHash("sha256")
    .update(JSON.stringify(["batch", inputs.map(requestHash)]))
    .digest("hex");
}

/**
 * The key recorded with a batch's mail `at`: the batch's own key with its first mail,
 * `key#at` with the others. So a send and a batch under one key meet (409), and a batch
 * cut short by a crash is completed by its retry: the mails that landed keep their ids.
 */
export const batchItemKey = (key: string, at: number): string => (at === 0 ? key : `${key}#${at}`);

export class Idempotency {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Mails accepted here within settleMs (settled once their request ended), by acceptance time. */
  private readonly ownRecent = new Map<MailId, number>();

  constructor(
    private readonly index: MailIndex,
    private readonly now: () => number = Date.now,
    /** Cluster mode: how long another host may take to settle a mail it accepted (its confirm timeouts and a margin); 0 alone. */
    private readonly settleMs = 0,
  ) {}

  /** Runs `accept` unless the key already answered; returns the mail id and whether it is a repeat. */
  async run(key: string, hash: string, accept: () => Promise<MailId>): Promise<{ id: MailId; repeated: boolean }> {
    return this.exclusive(key, async () => {
      const earlier = (await this.settled(() => this.index.keyUse(key, this.windowStart())))?.id;
      if (earlier) {
        if (this.index.get(earlier)?.requestHash !== hash) throw conflict();
        return { id: earlier, repeated: true };
      }
      return { id: this.own(await accept()), repeated: false };
    });
  }

  private own(id: MailId): MailId {
    if (!this.settleMs) return id;
    const now = this.now();
    // in time order: the old ones are at the front
    for (const [old, at] of this.ownRecent) {
      if (now - at < this.settleMs) break;
      this.ownRecent.delete(old);
    }
    this.ownRecent.set(id, now);
    return id;
  }

  /**
   * `lookup()`'s mail, once no other host can still cancel it: a queued mail another host
   * accepted less than settleMs ago is waited for, then looked up again (its key may be freed).
   */
  private async settled(lookup: () => KeyUse | undefined): Promise<KeyUse | undefined> {
    const started = this.now();
    for (;;) {
      const use = lookup();
      if (!use || !this.settleMs || this.ownRecent.has(use.id)) return use;
      const { id } = use;
      const state = this.index.get(id)?.state;
      // from the id's time, or from now if the other host's clock runs ahead: settleMs at most
      const wait = Math.min(decodeTime(id), started) + this.settleMs - this.now();
      if ((state !== "queued" && state !== "scheduled") || wait <= 0) return use;
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 500)));
    }
  }

  /**
   * A batch of `count` mails under one key: the mails an earlier request under it stored (all of
   * them after a 200; some after a crash mid-commit) keep their ids, and `accept` gets the
   * places of the others. Returns every id in order and how many were there before.
   */
  async runBatch(
    key: string,
    hash: string,
    count: number,
    accept: (missing: number[]) => Promise<MailId[]>,
  ): Promise<{ ids: MailId[]; earlier: number }> {
    return this.exclusive(key, async () => {
      const since = this.windowStart();
      const ids: (MailId | undefined)[] = [];
      for (let at = 0; at < count; at += 1) {
        const used = await this.settled(() => this.index.keyUse(batchItemKey(key, at), since));
        if (used && used.requestHash !== hash) throw conflict();
        ids.push(used?.id);
      }
      const missing = ids.flatMap((id, at) => (id === undefined ? [at] : []));
      const earlier = count - missing.length;
      if (missing.length) (await accept(missing)).forEach((id, i) => (ids[missing[i]!] = this.own(id)));
      return { ids: ids as MailId[], earlier };
    });
  }

  /** One request per key at a time: a repeat while the first is in flight waits for it. */
  private async exclusive<T>(key: string, run: () => Promise<T>): Promise<T> {
    while (this.inFlight.has(key)) await this.inFlight.get(key);
    const running = run();
    this.inFlight.set(
      key,
      running.catch(() => undefined),
    );
    try {
      return await running;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private windowStart(): Date {
    return new Date(this.now() - idempotencyWindowMs);
  }
}

function conflict(): MailspoolError {
  return new MailspoolError("conflict", "Idempotency-Key was already used for a different request");
}
