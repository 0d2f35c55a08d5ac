// archive/totals.json as the commit point of archiving, on real files: a stop between the
// archive copy and the commit, or between the commit and removing the live copy, leaves a
// segment in both directories; the next open settles it so every mail counts once, and
// the totals equal those before the stop.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../log.js";
import type { Mail } from "../types.js";
import { readArchiveTotals, totalsFile } from "./archive-totals.js";
import { compactSpool } from "./compact.js";
import { segmentName } from "./segment-files.js";
import { Spool } from "./spool.js";

const log = createLogger("silent");
const day = 86_400_000;
let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-archive-totals-"));
});
afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const mail = (to: string): Mail => ({
  subject: "s",
  html: "<p>h</p>",
  to: [{ address: to }],
  cc: [],
  bcc: [],
  attachments: [],
  messageId: `<${to}>`,
});

/** Two sent mails in segment 1, one failed mail in segment 2 (stays live), the writer on segment 3. */
async function spoolWithArchivableSegment(): Promise<Spool> {
  const spool = Spool.open({ dataDir, log, minFreeBytes: -1 });
  const ids = ["01JHB4Y2Q7N9W3R5T8K6M1C0A1", "01JHB4Y3D2F6H8J0K4M7P9R2B2", "01JHB4Y4X5Z7B9D1F3H6K8N0C3"];
  for (const [i, id] of ids.entries()) {
    if (i === 2) await spool.closeCurrentSegment();
    await spool.accept(id, mail(`r${i}@x.test`), "test");
    await spool.append({ type: "attempt", id, attempt: 1, state: i === 2 ? "failed" : "sent" });
  }
  await spool.closeCurrentSegment();
  return spool;
}

const live = (n: number) => path.join(dataDir, "spool", segmentName(n));
const archived = (n: number) => path.join(dataDir, "archive", segmentName(n));

describe("archiving and archive/totals.json", () => {
  it("moves a segment's counts to totals.json and keeps the sum across a restart", async () => {
    const spool = await spoolWithArchivableSegment();
    const before = spool.totals();
    expect(before).toMatchObject({ emails: 3, successful: 2, failed: 1, processed: 3, recipients: 3 });
    const result = await compactSpool(spool, { retentionDays: 30, log, now: () => Date.now() + 2 * day });
    expect(result).toMatchObject({ archivedSegments: 1, archivedMails: 2 });
    expect(spool.totals()).toEqual(before);
    expect(readArchiveTotals(path.join(dataDir, "archive"))).toMatchObject({ emails: 2, successful: 2, segments: [1] });
    await spool.close();
    const reopened = Spool.open({ dataDir, log, minFreeBytes: -1 });
    expect(reopened.totals()).toEqual(before);
    await reopened.close();
  });

  it("finishes an archiving stopped after the commit: the live copy goes, nothing counts twice", async () => {
    const spool = await spoolWithArchivableSegment();
    const before = spool.totals();
    const liveBytes = fs.readFileSync(live(1));
    await compactSpool(spool, { retentionDays: 30, log, now: () => Date.now() + 2 * day });
    await spool.close();
    fs.writeFileSync(live(1), liveBytes); // the stop came before the live copy was removed
    const reopened = Spool.open({ dataDir, log, minFreeBytes: -1 });
    expect(fs.existsSync(live(1))).toBe(false);
    expect(fs.existsSync(archived(1))).toBe(true);
    expect(reopened.totals()).toEqual(before);
    await reopened.close();
  });

  it("undoes an archiving stopped before the commit: the archive copy goes, nothing is lost", async () => {
    const spool = await spoolWithArchivableSegment();
    const before = spool.totals();
    await spool.close();
    fs.copyFileSync(live(1), archived(1)); // the copy was written, totals.json not yet
    const reopened = Spool.open({ dataDir, log, minFreeBytes: -1 });
    expect(fs.existsSync(archived(1))).toBe(false);
    expect(reopened.totals()).toEqual(before);
    expect(reopened.index.size).toBe(3);
    await reopened.close();
  });

  it("never reuses a segment number archived before, even after retention removed its file", async () => {
    const spool = await spoolWithArchivableSegment();
    await compactSpool(spool, { retentionDays: 30, log, now: () => Date.now() + 40 * day });
    expect(fs.readdirSync(path.join(dataDir, "spool"))).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, "archive"))).toEqual(["totals.json"]);
    await spool.close();
    const reopened = Spool.open({ dataDir, log, minFreeBytes: -1 });
    expect(reopened.currentSegment).toBeGreaterThan(
      Math.max(...readArchiveTotals(path.join(dataDir, "archive")).segments),
    );
    expect(reopened.totals()).toMatchObject({ emails: 3, successful: 2, failed: 1 });
    await reopened.close();
  });

  it("counts nothing archived from an unreadable totals.json (never a crash)", async () => {
    fs.mkdirSync(path.join(dataDir, "archive"), { recursive: true });
    fs.writeFileSync(totalsFile(path.join(dataDir, "archive")), "null");
    expect(readArchiveTotals(path.join(dataDir, "archive"))).toMatchObject({ emails: 0, segments: [] });
  });
});
