// The spool index on real files (data/index.sqlite): it is derived from the segments, so a
// rebuild gives back what it held, a restart folds only what it has not seen, and a lost,
// torn or misplaced index file is rebuilt rather than trusted.
import { Database } from "bun:sqlite";
import fc from "fast-check";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../log.js";
import type { MailState } from "../types.js";
import { compactSpool } from "./compact.js";
import { checkIndexFile } from "./index-check.js";
import { encodeRecord, recordVersion, type SpoolRecord } from "./record.js";
import { segmentName } from "./segment-files.js";
import { MailIndex } from "./mail-index.js";
import { indexFile, Spool, spoolPaths } from "./spool.js";
import { historyId as id, historyMail as mail, op, runHistory, type Op } from "../../test/helpers/spool-history.js";

const log = createLogger("silent");
const day = 86_400_000;
let dataDir: string;
let clock: number;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-index-"));
  clock = Date.parse("2026-03-01T00:00:00Z");
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const open = () => Spool.open({ dataDir, log, minFreeBytes: -1, now: () => new Date((clock += 1000)) });
const snapshot = (spool: Spool, ids: string[]) => ids.map((i) => JSON.stringify(spool.index.get(i) ?? null));
const rebuildFrom = () => fs.rmSync(indexFile(dataDir), { force: true });

describe("the spool index file", () => {
  it("a rebuild from the segments equals the index kept live, and fsck finds them equal (generated histories)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.array(op, { maxLength: 20 }), async (first, second) => {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.mkdirSync(dataDir);
        const accepted: string[] = [];
        let spool = open();
        await runHistory(spool, first, accepted);
        await spool.close();
        spool = open(); // folds nothing: the index has seen every record
        expect(spool.recovery?.records).toBe(0);
        await runHistory(spool, second, accepted);
        const live = snapshot(spool, accepted);
        const counts = spool.index.countByState();
        const totals = spool.totals();
        await spool.close();
        expect(checkIndexFile(spoolPaths(dataDir), indexFile(dataDir))?.differing).toEqual([]);

        rebuildFrom();
        const rebuilt = open();
        expect(snapshot(rebuilt, accepted)).toEqual(live);
        expect(rebuilt.index.countByState()).toEqual(counts);
        expect(rebuilt.totals()).toEqual(totals);
        await rebuilt.close();
      }),
      { numRuns: 40 },
    );
  });

  it("keeps every change when a write of a full batch falls between reading a mail and changing it", () => {
    const index = new MailIndex();
    const count = 10_000;
    const at = (n: number) => ({ segment: 1, offset: n * 100, length: 100 });
    for (let n = 0; n < count; n += 1) {
      const record = { v: 1, type: "accepted", id: id(n), ts: "2026-03-01T00:00:00.000Z", client: "t", mail: mail(n) };
      index.apply(record as SpoolRecord, at(n));
    }
    for (let n = 0; n < count; n += 1) {
      const record = { v: 1, type: "cancel", id: id(n), ts: "2026-03-01T00:01:00.000Z", reason: "t" };
      index.apply(record as SpoolRecord, at(count + n));
    }
    expect(index.countByState()).toMatchObject({ queued: 0, cancelled: count });
    index.close();
  });

  it("records appended after the index's last write (a crash between the two) are folded at the next start", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t");
    await spool.close();
    // what a crash leaves: the record is in the segment, the index never saw it
    const record = {
      v: recordVersion,
      type: "attempt",
      id: id(1),
      ts: "2026-03-01T00:10:00.000Z",
      attempt: 1,
      state: "sent",
    };
    fs.appendFileSync(path.join(dataDir, "spool", segmentName(1)), encodeRecord(record as SpoolRecord));
    const reopened = open();
    expect(reopened.recovery?.records).toBe(1);
    expect(reopened.index.get(id(1))?.state).toBe("sent");
    expect(reopened.index.undelivered()).toEqual([]);
    await reopened.close();
    expect(checkIndexFile(spoolPaths(dataDir), indexFile(dataDir))?.differing).toEqual([]);
  });

  it.each([
    ["torn in half", (file: string) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))],
    ["overwritten with garbage", (file: string) => fs.writeFileSync(file, "not a database".repeat(500))],
    ["emptied", (file: string) => fs.writeFileSync(file, "")],
  ])("an index file %s is rebuilt from the segments", async (_how, damage) => {
    const spool = open();
    const accepted: string[] = [];
    await runHistory(
      spool,
      Array.from({ length: 30 }, (_, i): Op =>
        i % 3 ? { kind: "attempt", mail: i, state: "sent" } : { kind: "accept" },
      ),
      accepted,
    );
    const before = snapshot(spool, accepted);
    await spool.close();
    damage(indexFile(dataDir));
    const reopened = open();
    expect(snapshot(reopened, accepted)).toEqual(before);
    await reopened.close();
  });

  it("after a reboot (another boot id) the index is checked once, and a damaged one is rebuilt", async () => {
    const spool = open();
    const accepted: string[] = [];
    await runHistory(
      spool,
      Array.from({ length: 200 }, (): Op => ({ kind: "accept" })),
      accepted,
    );
    const before = snapshot(spool, accepted);
    await spool.close();
    const file = indexFile(dataDir);
    const db = new Database(file);
    db.query("UPDATE meta SET value = 'another boot' WHERE key = 'boot'").run();
    db.close();
    // a page in the middle of the file overwritten, as a power loss without fsync may leave it
    const handle = fs.openSync(file, "r+");
    fs.writeSync(handle, Buffer.alloc(4096, 0xa5), 0, 4096, 4096 * 3);
    fs.closeSync(handle);
    const reopened = open();
    expect(snapshot(reopened, accepted)).toEqual(before);
    expect(reopened.index.list({ limit: 500 })).toHaveLength(200);
    await reopened.close();
  });

  it("a build killed half-way (never marked complete) is not resumed but made again", async () => {
    const spool = open();
    const accepted: string[] = [];
    await runHistory(
      spool,
      Array.from({ length: 20 }, (): Op => ({ kind: "accept" })),
      accepted,
    );
    const before = snapshot(spool, accepted);
    await spool.close();
    const db = new Database(indexFile(dataDir));
    db.query("DELETE FROM meta WHERE key = 'complete'").run();
    db.query("DELETE FROM mails WHERE id IN (SELECT id FROM mails ORDER BY seq LIMIT 5)").run();
    db.close();
    const reopened = open();
    expect(reopened.recovery?.records).toBe(20);
    expect(snapshot(reopened, accepted)).toEqual(before);
    await reopened.close();
  });

  it("a directory where the index file belongs stops start-up naming it, and is left alone", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t");
    await spool.close();
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${indexFile(dataDir)}${suffix}`, { force: true });
    fs.mkdirSync(indexFile(dataDir));
    expect(() => open()).toThrow(/index\.sqlite is a directory, not the spool index/);
    expect(fs.statSync(indexFile(dataDir)).isDirectory()).toBe(true);
  });

  it("an index that has folded more than spool/ holds (a restored or replaced spool) is rebuilt", async () => {
    const spool = open();
    await spool.accept(id(1), mail(1), "t");
    await spool.accept(id(2), mail(2), "t");
    await spool.close();
    const segment = path.join(dataDir, "spool", segmentName(1));
    const lines = fs.readFileSync(segment, "utf8").split("\n");
    fs.writeFileSync(segment, `${lines[0]}\n`);
    const reopened = open();
    expect(reopened.index.get(id(1))?.state).toBe("queued");
    expect(reopened.index.get(id(2))).toBeUndefined();
    await reopened.close();
  });

  it("a mail finished long ago is found with its full status after archiving and restarts, until retention deletes it", async () => {
    const retentionDays = 30;
    const spool = open();
    await spool.accept(id(1), mail(1), "t", { key: "old-key" });
    await spool.append({
      type: "outcome",
      id: id(1),
      attempt: 1,
      transaction: { upstream: "u", envelope: { from: "f@x.test", to: ["r1@x.test"] }, code: 250, response: "ok" },
      recipients: [{ address: "r1@x.test", state: "sent" }],
    });
    await spool.append({ type: "attempt", id: id(1), attempt: 1, state: "sent" });
    await spool.closeCurrentSegment();
    for (let n = 2; n < 50; n += 1) await spool.accept(id(n), mail(n), "t");
    const status = JSON.stringify(spool.index.get(id(1)));
    clock += 10 * day;
    expect(await compactSpool(spool, { retentionDays, log, now: () => clock })).toMatchObject({ archivedSegments: 1 });
    await spool.close();

    for (let restart = 0; restart < 3; restart += 1) {
      const reopened = open();
      const entry = reopened.index.get(id(1));
      expect(entry?.state).toBe("sent");
      expect(entry?.recipients[0]).toEqual({ address: "r1@x.test", kind: "to", state: "sent" });
      expect(entry?.attempts[0]?.transactions[0]?.code).toBe(250);
      expect({ ...entry, location: undefined }).toEqual({ ...JSON.parse(status), location: undefined });
      expect((await reopened.readAccepted(id(1))).mail.subject).toBe("Subject 1");
      expect(reopened.index.list({ state: "sent", limit: 10 }).map((e) => e.id)).toEqual([id(1)]);
      expect(reopened.index.list({ recipient: "r1@X.TEST", limit: 10 }).map((e) => e.id)).toEqual([id(1)]);
      await reopened.close();
      clock += 5 * day;
    }
    const late = open();
    clock += retentionDays * day;
    // archive/ files past retention are judged by their mtime
    for (const name of fs.readdirSync(path.join(dataDir, "archive")))
      fs.utimesSync(path.join(dataDir, "archive", name), new Date(clock - 40 * day), new Date(clock - 40 * day));
    await compactSpool(late, { retentionDays, log, now: () => clock });
    expect(late.index.get(id(1))).toBeUndefined();
    expect(late.index.get(id(2))?.state).toBe("queued");
    await late.close();
  });

  it("lists page newest first with a cursor, by state, recipient (domain case ignored) and subject", async () => {
    const spool = open();
    for (let n = 1; n <= 25; n += 1) await spool.accept(id(n), mail(n), "t");
    for (let n = 1; n <= 25; n += 5) await spool.append({ type: "attempt", id: id(n), attempt: 1, state: "failed" });
    const page1 = spool.index.list({ limit: 10 });
    const page2 = spool.index.list({ limit: 10, before: page1.at(-1)!.id });
    expect(page1.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => id(25 - i)));
    expect(page2.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => id(15 - i)));
    expect(spool.index.list({ state: "failed", limit: 10 }).map((e) => e.id)).toEqual([21, 16, 11, 6, 1].map(id));
    const shared = spool.index.list({ recipient: "Shared@EXAMPLE.test", limit: 100 });
    expect(shared.map((e) => e.id)).toEqual([25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1].map(id));
    expect(spool.index.list({ subject: "SUBJECT 2", limit: 100 }).map((e) => e.id)).toEqual(
      [25, 24, 23, 22, 21, 20, 2].map(id),
    );
    // a cursor the index does not know (a forgotten mail) pages on by the id's time
    const unknown = `${id(19).slice(0, -1)}Z`; // after …0019, before …0020
    expect(spool.index.list({ limit: 3, before: unknown }).map((e) => e.id)).toEqual([19, 18, 17].map(id));
    expect(spool.index.list({ limit: 3, before: "0".repeat(26) })).toEqual([]);
    const states: Record<MailState, number> = spool.index.countByState();
    expect(states).toMatchObject({ queued: 20, failed: 5 });
    await spool.close();
  });
});
