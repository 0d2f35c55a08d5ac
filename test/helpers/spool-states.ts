// Data directories with mails in chosen states, written as the relay would have left them
// (the project's own encodeRecord: real crc, real field order): an accepted record, then for
// a mail that was tried an outcome and an attempt record, and a cancel record for a cancelled
// one. Used where a test needs many mails, or mails in exact states, without delivering them.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { monotonicFactory } from "ulid";
import { encodeRecord, recordVersion, type SpoolRecord } from "../../src/spool/record.js";
import type { MailState, RecipientState } from "../../src/types.js";

export interface MailShape {
  /** Each recipient's outcome of the one attempt; ignored for a mail never tried (`queued`). */
  recipients: { address: string; outcome: Exclude<RecipientState, "pending" | "failed-transient"> }[];
  /** queued (never tried), deferred (tried, due later), final (tried, ended), or cancelled after either. */
  stage: "queued" | "deferred" | "final";
  cancelled?: boolean;
  /** Accepted this long ago (default: writeSpool's ageMs). */
  ageMs?: number;
}

const ulid = monotonicFactory();

/** The state the index folds a shape to. */
export function stateOf(shape: MailShape): MailState {
  if (shape.cancelled) return "cancelled";
  if (shape.stage === "queued") return "queued";
  if (shape.stage === "deferred") return "deferred";
  const sent = shape.recipients.filter((r) => r.outcome === "sent").length;
  return sent === shape.recipients.length ? "sent" : sent > 0 ? "partial" : "failed";
}

function recordsOf(id: string, shape: MailShape, at: number): SpoolRecord[] {
  const ts = (ms: number) => new Date(at + ms).toISOString();
  const to = shape.recipients.map((r) => ({ address: r.address }));
  const records: SpoolRecord[] = [
    {
      v: recordVersion,
      type: "accepted",
      id,
      ts: ts(0),
      client: "ip:127.0.0.1",
      mail: {
        subject: `mail ${id}`,
        html: "<p>x</p>",
        to,
        cc: [],
        bcc: [],
        attachments: [],
        messageId: `<${id}@example.org>`,
      },
    },
  ];
  if (shape.stage !== "queued") {
    records.push({
      v: recordVersion,
      type: "outcome",
      id,
      ts: ts(1),
      attempt: 1,
      transaction: {
        upstream: "sink",
        envelope: { from: "relay@example.org", to: to.map((r) => r.address) },
        code: 250,
        response: "ok",
      },
      recipients: shape.recipients.map((r) => ({ address: r.address, state: r.outcome })),
    });
    const state = shape.stage === "deferred" ? "deferred" : stateOf({ ...shape, cancelled: false });
    records.push({
      v: recordVersion,
      type: "attempt",
      id,
      ts: ts(2),
      attempt: 1,
      state,
      ...(state === "deferred" ? { nextAttemptAt: new Date(at + 86_400_000).toISOString() } : {}),
    });
  }
  if (shape.cancelled) records.push({ v: recordVersion, type: "cancel", id, ts: ts(3), reason: "test" });
  return records;
}

/** Writes data/spool/000001.jsonl under dir with these mails (accepted `ageMs` ago and later); returns their ids. */
export function writeSpool(dir: string, shapes: MailShape[], ageMs = 60_000): string[] {
  const spoolDir = path.join(dir, "data", "spool");
  fs.mkdirSync(spoolDir, { recursive: true });
  const now = Date.now();
  const ids = shapes.map((shape) => ulid(now - (shape.ageMs ?? ageMs)));
  const lines = shapes.flatMap((shape, i) =>
    recordsOf(ids[i]!, shape, now - (shape.ageMs ?? ageMs) + i).map(encodeRecord),
  );
  fs.writeFileSync(path.join(spoolDir, "000001.jsonl"), lines.join(""));
  return ids;
}

/** Delivery paused: replayed mails stay queued, so a test sees the requests, not their delivery. */
export function pauseDelivery(dir: string): void {
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  fs.writeFileSync(path.join(dir, "data", "state.json"), JSON.stringify({ paused: true }));
}

const outcome = fc.constantFrom("sent", "deferred", "failed-permanent") as fc.Arbitrary<
  MailShape["recipients"][0]["outcome"]
>;

/** A mail in any state: 1–3 recipients with any outcome, at any stage, maybe cancelled. */
export const mailShape: fc.Arbitrary<MailShape> = fc
  .record({
    outcomes: fc.array(outcome, { minLength: 1, maxLength: 3 }),
    stage: fc.constantFrom("queued", "deferred", "final") as fc.Arbitrary<MailShape["stage"]>,
    cancelled: fc.boolean(),
  })
  .map(({ outcomes, stage, cancelled }) => ({
    recipients: outcomes.map((o, i) => ({
      address: `r${i}@example.com`,
      outcome: stage === "deferred" && i === 0 ? "deferred" : o,
    })),
    stage,
    // only what is cancellable gets a cancel record, as the relay would have refused the others
    cancelled: cancelled && !(stage === "final" && outcomes.every((o) => o === "sent")),
  }));
