// Mails split by archiving, on real files: the compactor archives whole segments, so a mail
// can keep records on both sides. A restart must see each mail exactly as before it — never
// queued again after it was sent (which would deliver it twice), never lost — and a split
// mail's accepted record stays readable with its attachment bytes.
import fc from "fast-check";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../log.js";
import type { Mail, MailState } from "../types.js";
import { readArchiveTotals } from "./archive-totals.js";
import { compactSpool } from "./compact.js";
import { Spool } from "./spool.js";

const log = createLogger("silent");
const day = 86_400_000;
const retentionDays = 3;
let dataDir: string;
let clock: number;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-split-"));
  clock = Date.parse("2026-06-01T00:00:00Z");
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const open = () => Spool.open({ dataDir, log, minFreeBytes: -1, now: () => new Date((clock += 1000)) });
const compact = (spool: Spool) => compactSpool(spool, { retentionDays, log, now: () => clock });
const mail = (n: number): Mail => ({
  subject: `m${n}`,
  html: "<p>h</p>",
  to: [{ address: `r${n}@x.test` }],
  cc: [],
  bcc: [],
  attachments: [{ filename: "a.txt", contentType: "text/plain", size: 2, sha256: "0".repeat(64), inline: "aGk=" }],
  messageId: `<m${n}@x.test>`,
});
const id = (n: number) => `01JAAAAAAAAAAAAAAAAAAAA${String(n).padStart(3, "0")}`;

async function stateOf(spool: Spool, mailId: string): Promise<MailState | undefined> {
  return spool.index.get(mailId)?.state;
}

describe("segments the cluster's publisher has not passed", () => {
  it("stay live however old and finished, and are archived once it has", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t");
    await spool.append({ type: "attempt", id: id(1), attempt: 1, state: "sent" });
    await spool.closeCurrentSegment();
    clock += 2 * day;
    let unconfirmed = 1;
    const keep = (segment: number) => segment >= unconfirmed;
    expect(await compactSpool(spool, { retentionDays, log, now: () => clock, keep })).toMatchObject({
      archivedSegments: 0,
    });
    unconfirmed = 2;
    expect(await compactSpool(spool, { retentionDays, log, now: () => clock, keep })).toMatchObject({
      archivedSegments: 1,
    });
    await spool.close();
  });
});

describe("mails split between archive/ and spool/", () => {
  it("a sent mail whose attempt was archived while its accepted record stayed live is not queued again", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t"); // failed, within retention: keeps segment 1 live
    await spool.append({ type: "attempt", id: id(1), attempt: 1, state: "failed" });
    await spool.accept(id(2), mail(2), "t");
    await spool.closeCurrentSegment();
    await spool.append({ type: "attempt", id: id(2), attempt: 1, state: "sent" });
    await spool.closeCurrentSegment();
    clock += 2 * day;
    expect(await compact(spool)).toMatchObject({ archivedSegments: 1 });
    expect(readArchiveTotals(spool.paths.archive).split).toEqual({ [id(2)]: [2] });
    await spool.close();

    const reopened = open();
    expect(reopened.index.get(id(2))?.state).toBe("sent");
    expect(reopened.index.undelivered().map((e) => e.id)).not.toContain(id(2));
    // once the failed mail passes retention, segment 1 goes too and the split is over
    clock += retentionDays * day;
    await compact(reopened);
    expect(readArchiveTotals(reopened.paths.archive).split).toEqual({});
    expect(reopened.index.get(id(2))?.location.archived).toBe(true);
    expect(await stateOf(reopened, id(2))).toBe("sent");
    await reopened.close();
  });

  it("a mail whose accepted record was archived while later records stayed live is whole again, bytes included", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t");
    await spool.closeCurrentSegment();
    await spool.append({ type: "attempt", id: id(1), attempt: 1, state: "sent" });
    await spool.accept(id(2), mail(2), "t"); // failed, within retention: keeps segment 2 live
    await spool.append({ type: "attempt", id: id(2), attempt: 1, state: "failed" });
    await spool.closeCurrentSegment();
    clock += 2 * day;
    await compact(spool);
    expect(spool.index.get(id(1))?.location.archived).toBe(true);
    await spool.close();

    const reopened = open();
    expect(reopened.index.get(id(1))?.state).toBe("sent");
    const accepted = await reopened.readAccepted(id(1));
    expect(accepted.mail.attachments[0]).toMatchObject({ inline: "aGk=" });
    await reopened.close();
  });

  it("writing after a restart never lands on an archived segment's number", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t"); // failed, within retention: keeps segment 1 live
    await spool.append({ type: "attempt", id: id(1), attempt: 1, state: "failed" });
    await spool.closeCurrentSegment();
    await spool.accept(id(2), mail(2), "t");
    await spool.append({ type: "attempt", id: id(2), attempt: 1, state: "sent" });
    await spool.closeCurrentSegment();
    clock += 2 * day;
    await compact(spool); // segment 2 archived, 1 stays live
    await spool.close();
    const reopened = open();
    expect(reopened.currentSegment).toBe(3);
    await reopened.closeCurrentSegment();
    await reopened.accept(id(3), mail(3), "t");
    await reopened.close();
    const again = open();
    expect(again.index.get(id(3))?.state).toBe("queued");
    await again.close();
  });

  // a mail's life spans segments as in a running relay: accepted now, its attempts later
  type Op =
    | { kind: "accept" }
    | { kind: "attempt"; mail: number; state: MailState; oldest: boolean }
    | { kind: "replay" | "cancel"; mail: number }
    | { kind: "rotate" | "compact" | "restart" };
  const ops: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant({ kind: "accept" as const }), weight: 3 },
    {
      arbitrary: fc.record({
        kind: fc.constant("attempt" as const),
        mail: fc.nat(),
        state: fc.constantFrom<MailState>("sent", "sent", "sent", "failed", "partial", "deferred"),
        oldest: fc.constantFrom(true, true, true, false),
      }),
      weight: 6,
    },
    {
      arbitrary: fc.record({ kind: fc.constantFrom("replay" as const, "cancel" as const), mail: fc.nat() }),
      weight: 1,
    },
    { arbitrary: fc.constant({ kind: "rotate" as const }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constantFrom("compact" as const, "restart" as const) }), weight: 2 },
  );

  it("a restart sees every mail as it was, whatever was archived (generated histories)", async () => {
    let splitRestarts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(ops, { minLength: 30, maxLength: 80 }), async (history) => {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.mkdirSync(dataDir);
        // each history starts at the same fake time: retention (by the files' real mtimes) never removes a thing
        clock = Date.parse("2026-06-01T00:00:00Z");
        let spool = open();
        let mails = 0;
        try {
          for (const op of history) {
            if (op.kind === "accept") await spool.accept(id(mails), mail(mails++), "t");
            else if (op.kind === "rotate") await spool.closeCurrentSegment();
            else if (op.kind === "compact") {
              clock += 2 * day;
              await compact(spool);
            } else if (op.kind === "restart") {
              if (Object.keys(spool.archived.split).length) splitRestarts += 1;
              const before = await Promise.all(Array.from({ length: mails }, (_, n) => stateOf(spool, id(n))));
              await spool.close();
              spool = open();
              const after = await Promise.all(Array.from({ length: mails }, (_, n) => stateOf(spool, id(n))));
              expect(after, JSON.stringify({ before, after })).toEqual(before);
            } else if (mails) {
              const open = spool.index.undelivered();
              const oldest = op.kind === "attempt" && op.oldest && open.length ? open[0]!.id : undefined;
              const target = oldest ?? id(("mail" in op ? op.mail : 0) % mails);
              if (op.kind === "attempt")
                await spool.append({ type: "attempt", id: target, attempt: 1, state: op.state });
              else if (op.kind === "replay")
                await spool.append({ type: "replay", id: target, recipients: [], reason: "t" });
              else await spool.append({ type: "cancel", id: target, reason: "t" });
            }
          }
        } finally {
          await spool.close();
        }
      }),
      { numRuns: 150 },
    );
    // the histories must have reached the case this is about
    expect(splitRestarts).toBeGreaterThan(5);
  }, 120_000);
});
