// Generated histories of a spool, made through the real writer (Spool.append): mails
// accepted, tried (any end state), replayed, cancelled, and segments rotated in between.
import fc from "fast-check";
import type { Spool } from "../../src/spool/spool.js";
import type { Mail } from "../../src/types.js";

export const historyId = (n: number) => `01JBBBBBBBBBBBBBBBBBBB${String(n).padStart(4, "0")}`;

export const historyMail = (n: number): Mail => ({
  subject: `Subject ${n}`,
  html: "<p>h</p>",
  to: [{ address: `r${n}@x.test` }],
  cc: n % 2 ? [{ address: `Shared@Example.test` }] : [],
  bcc: [],
  attachments: [],
  messageId: `<m${n}@x.test>`,
});

export type Op =
  | { kind: "accept" }
  | { kind: "attempt"; mail: number; state: "sent" | "deferred" | "partial" | "failed" }
  | { kind: "replay"; mail: number }
  | { kind: "cancel"; mail: number }
  | { kind: "rotate" };

export const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: "accept" as const }),
  fc.record({
    kind: fc.constant("attempt" as const),
    mail: fc.nat(20),
    state: fc.constantFrom("sent" as const, "deferred" as const, "partial" as const, "failed" as const),
  }),
  fc.record({ kind: fc.constant("replay" as const), mail: fc.nat(20) }),
  fc.record({ kind: fc.constant("cancel" as const), mail: fc.nat(20) }),
  fc.constant({ kind: "rotate" as const }),
);

/** Carries out `ops` on `spool`; `accepted` gets the id of every mail accepted. */
export async function runHistory(spool: Spool, ops: Op[], accepted: string[]): Promise<void> {
  for (const o of ops) {
    if (o.kind === "accept") {
      const n = accepted.length + 1;
      await spool.accept(historyId(n), historyMail(n), "t", n % 3 ? undefined : { key: `key-${n}` });
      accepted.push(historyId(n));
      continue;
    }
    if (o.kind === "rotate") {
      await spool.closeCurrentSegment();
      continue;
    }
    const target = accepted[o.mail % Math.max(1, accepted.length)];
    if (!target) continue;
    if (o.kind === "attempt") {
      const attempt = (spool.index.get(target)?.attempts.length ?? 0) + 1;
      await spool.append({
        type: "outcome",
        id: target,
        attempt,
        transaction: { upstream: "u", envelope: { from: "f@x.test", to: [] }, code: 250, response: "ok" },
        // a sent attempt's first recipient is accepted upstream: the daily counts see it
        recipients:
          o.state === "sent" ? [{ address: spool.index.get(target)!.recipients[0]!.address, state: "sent" }] : [],
      });
      await spool.append({ type: "attempt", id: target, attempt, state: o.state });
    } else if (o.kind === "replay") await spool.append({ type: "replay", id: target, recipients: [], reason: "t" });
    else await spool.append({ type: "cancel", id: target, reason: "t" });
  }
}
