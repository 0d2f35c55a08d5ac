// The event totals as a fold: generated record sequences spread over segments, with
// segments archived and the index rebuilt (a restart) at random points. No total ever
// decreases; without archiving a restart gives exactly the same totals; the counts are
// those of the events, whatever the mails' current states.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MailState } from "../types.js";
import { MailIndex } from "./mail-index.js";
import type { NewRecord, SpoolRecord } from "./record.js";
import { SegmentMap } from "./segment-map.js";
import { addTotals, emptyTotals, metricsJson, totalKeys, type Totals } from "./totals.js";

type Op =
  | { kind: "accept"; recipients: number }
  | { kind: "attempt"; mail: number; state: MailState }
  | { kind: "replay"; mail: number }
  | { kind: "cancel"; mail: number }
  | { kind: "rotate" }
  | { kind: "archive"; segment: number }
  | { kind: "restart" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("accept" as const), recipients: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    kind: fc.constant("attempt" as const),
    mail: fc.nat(),
    state: fc.constantFrom<MailState>("sent", "partial", "failed", "deferred"),
  }),
  fc.record({ kind: fc.constant("replay" as const), mail: fc.nat() }),
  fc.record({ kind: fc.constant("cancel" as const), mail: fc.nat() }),
  fc.record({ kind: fc.constant("rotate" as const) }),
  fc.record({ kind: fc.constant("archive" as const), segment: fc.nat() }),
  fc.record({ kind: fc.constant("restart" as const) }),
);

const mailId = (n: number) => `01JAAAAAAAAAAAAAAAAAAAA${String(n).padStart(3, "0")}`;

/** A spool reduced to what the totals depend on: records in numbered segments, some archived. */
class ModelSpool {
  live = new Map<number, SpoolRecord[]>([[1, []]]);
  current = 1;
  archived = emptyTotals();
  index = new MailIndex();
  segments = new SegmentMap();
  mails = 0;
  clock = Date.parse("2026-01-01T00:00:00Z");

  append(record: NewRecord): void {
    this.clock += 1000;
    const full = { v: 1, ts: new Date(this.clock).toISOString(), ...record } as SpoolRecord;
    const records = this.live.get(this.current)!;
    records.push(full);
    this.fold(full, this.current, records.length);
  }

  private fold(record: SpoolRecord, segment: number, offset: number): void {
    this.index.apply(record, { segment, offset, length: 1 });
    this.segments.add(segment, record.id, record.ts);
  }

  run(o: Op): void {
    const id = mailId(this.mails ? ("mail" in o ? o.mail % this.mails : 0) : 0);
    if (o.kind === "accept") {
      const to = Array.from({ length: o.recipients }, (_, i) => ({ address: `r${i}@x.test` }));
      const mail = { subject: "s", html: "h", to, cc: [], bcc: [], attachments: [], messageId: "<m@x>" };
      this.append({ type: "accepted", id: mailId(this.mails++), client: "c", mail } as NewRecord);
    } else if (o.kind === "attempt" && this.mails) this.append({ type: "attempt", id, attempt: 1, state: o.state });
    else if (o.kind === "replay" && this.mails) this.append({ type: "replay", id, recipients: [], reason: "t" });
    else if (o.kind === "cancel" && this.mails) this.append({ type: "cancel", id, reason: "t" });
    else if (o.kind === "rotate") this.live.set(++this.current, []);
    else if (o.kind === "archive") this.archive(o.segment);
    else if (o.kind === "restart") this.restart();
  }

  private archive(pick: number): void {
    const closed = [...this.live.keys()].filter((s) => s !== this.current);
    if (!closed.length) return;
    const segment = closed[pick % closed.length]!;
    addTotals(this.archived, this.index.totals.take(segment));
    this.segments.remove(segment);
    this.live.delete(segment);
  }

  private restart(): void {
    this.index = new MailIndex();
    this.segments = new SegmentMap();
    for (const [segment, records] of [...this.live].sort(([a], [b]) => a - b))
      records.forEach((record, offset) => this.fold(record, segment, offset));
  }

  totals(): Totals {
    const totals = { ...this.index.totals.sum };
    addTotals(totals, this.archived);
    return totals;
  }
}

describe("event totals", () => {
  it("never decrease across retries, replays, cancels, archiving and restarts", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const spool = new ModelSpool();
        let before = spool.totals();
        let accepted = 0;
        let recipients = 0;
        for (const o of ops) {
          spool.run(o);
          if (o.kind === "accept") [accepted, recipients] = [accepted + 1, recipients + o.recipients];
          const after = spool.totals();
          for (const key of totalKeys) expect(after[key], `${key} after ${o.kind}`).toBeGreaterThanOrEqual(before[key]);
          expect(after.emails).toBe(accepted);
          expect(after.recipients).toBe(recipients);
          before = after;
        }
      }),
      { numRuns: 500 },
    );
  });

  it("are rebuilt exactly by a restart when nothing was archived", () => {
    fc.assert(
      fc.property(
        fc.array(
          op.filter((o) => o.kind !== "archive" && o.kind !== "restart"),
          { maxLength: 60 },
        ),
        (ops) => {
          const spool = new ModelSpool();
          for (const o of ops) spool.run(o);
          const before = spool.totals();
          spool.run({ kind: "restart" });
          expect(spool.totals()).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("count each mail once per kind of event: a retry that fails again, then succeeds, is one failed and one sent mail", () => {
    const spool = new ModelSpool();
    spool.run({ kind: "accept", recipients: 2 });
    for (const state of ["deferred", "failed", "failed", "partial", "sent", "sent"] as const) {
      spool.run({ kind: "attempt", mail: 0, state });
      spool.run({ kind: "replay", mail: 0 });
    }
    spool.run({ kind: "cancel", mail: 0 });
    expect(spool.totals()).toMatchObject({ emails: 1, recipients: 2, successful: 1, failed: 1, processed: 1 });
    // the first final outcome (the second attempt, 3 s after acceptance) is the processing time
    expect(metricsJson(spool.totals()).avg_processing_time_ms).toBe(3000);
  });
});
