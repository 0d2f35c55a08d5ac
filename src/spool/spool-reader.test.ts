// The CLI's spool reader (spool-reader.ts) on real files: through the index file it answers
// exactly what folding every segment answers — while a server writes and after it stopped,
// records past the index's position included — and an index it cannot use (missing, torn,
// of another format, unfinished, left by a crash, without the server's counts) sends it to
// that fold, saying why once. It changes nothing in data/, and reads a read-only one.
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import fc from "fast-check";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { historyId, op, runHistory, type Op } from "../../test/helpers/spool-history.js";
import { mountTmpfs } from "../../test/helpers/tmpfs.js";
import { DailyCounter } from "../delivery/daily-counter.js";
import { createLogger } from "../log.js";
import { mailStates } from "../types.js";
import type { MailReader, ReaderQuery } from "./mail-reader.js";
import { compactSpool } from "./compact.js";
import { indexFile, Spool } from "./spool.js";
import { readSpool } from "./spool-reader.js";

const log = createLogger("silent");
let root: string;
let dataDir: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-reader-"));
  dataDir = path.join(root, "data");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A spool as serve opens it: with the daily counts kept in the index. */
const openServer = (dir = dataDir) =>
  Spool.open({ dataDir: dir, log, minFreeBytes: -1, counters: { daily: new DailyCounter("UTC") } });

const queries: ReaderQuery[] = [
  { limit: 1000 },
  { limit: 3 },
  ...mailStates.map((state) => ({ state, limit: 2 })),
  { recipient: "shared@EXAMPLE.test", limit: 4 },
  { subject: "subject 1", limit: 5 },
];

function answers(mails: MailReader, ids: string[]) {
  return {
    mails: [...ids, historyId(9999)].map((id) => mails.get(id) ?? null),
    size: mails.size,
    byState: mails.countByState(),
    lists: queries.map((query) => mails.list(query).map((entry) => entry.id)),
    counts: queries.map(({ limit: _limit, ...query }) => mails.countMatching(query)),
    queue: mails.inStates(["queued", "sending", "deferred"]).map((entry) => entry.id),
    failed: mails.inStates(["partial", "failed"]).map((entry) => entry.id),
  };
}

async function read(ids: string[]) {
  const daily = new DailyCounter("UTC");
  const fallbacks: string[] = [];
  const onFallback = (reason: string) => fallbacks.push(reason);
  const seen = await readSpool({ dataDir, log, counters: { daily }, onFallback }, ({ mails }) => answers(mails, ids));
  return { seen, daily: daily.state(), fallbacks };
}

/** What folding every segment says (the reader's fallback, and what it must equal). */
async function fullFold(ids: string[]) {
  const daily = new DailyCounter("UTC");
  const spool = Spool.read({ dataDir, log, observers: [(record) => daily.observe(record)] });
  const seen = answers(spool.index, ids);
  await spool.close();
  return { seen, daily: daily.state(), fallbacks: [] };
}

/** Records past the index's position with no server: a copy of the spool goes on, and its segments are put back. */
async function appendPastIndex(ops: Op[], accepted: string[]): Promise<void> {
  const copy = path.join(root, "copy");
  fs.cpSync(dataDir, copy, { recursive: true });
  const spool = openServer(copy);
  await runHistory(spool, ops, accepted);
  await spool.close();
  fs.cpSync(path.join(copy, "spool"), path.join(dataDir, "spool"), { recursive: true });
  fs.rmSync(copy, { recursive: true });
}

/** Every file under data/: its bytes and mtime. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    const stat = fs.statSync(file);
    files[name] = stat.isDirectory()
      ? `dir ${stat.mtimeMs}`
      : `${createHash("sha256").update(fs.readFileSync(file)).digest("hex")} ${stat.mtimeMs}`;
  }
  return files;
}

async function history(ops: Op[]): Promise<string[]> {
  const accepted: string[] = [];
  const spool = openServer();
  await runHistory(spool, ops, accepted);
  await spool.close();
  return accepted;
}

const someOps: Op[] = Array.from({ length: 30 }, (_, i): Op => {
  if (i % 3 === 0) return { kind: "accept" };
  return i % 3 === 1 ? { kind: "attempt", mail: i, state: "sent" } : { kind: "attempt", mail: i, state: "deferred" };
});

describe("the CLI's spool reader", () => {
  it("answers what folding every segment answers, a server writing or stopped, records past the index included (generated histories)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 40 }),
        fc.array(op, { maxLength: 20 }),
        fc.array(op, { maxLength: 20 }),
        async (first, second, third) => {
          fs.rmSync(dataDir, { recursive: true, force: true });
          const accepted = await history(first);
          expect(await read(accepted)).toEqual(await fullFold(accepted));

          // a server writing now (in this process): what it has not written to the index is past its position
          const spool = openServer();
          await runHistory(spool, second, accepted);
          expect(await read(accepted)).toEqual(await fullFold(accepted));
          await spool.close();

          await appendPastIndex(third, accepted);
          expect(await read(accepted)).toEqual(await fullFold(accepted));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("sees a mail accepted and a mail finished past the index's position", async () => {
    const accepted = await history(someOps);
    const before = (await read(accepted)).seen;
    await appendPastIndex([{ kind: "accept" }, { kind: "attempt", mail: 1, state: "failed" }], accepted);
    const { seen, fallbacks } = await read(accepted);
    expect(fallbacks).toEqual([]);
    expect(seen.size).toBe(before.size + 1);
    expect(seen.lists[0]![0]).toBe(accepted.at(-1));
    expect(seen.mails[1]?.state).toBe("failed");
    expect(seen.byState.failed).toBe(before.byState.failed + 1);
  });

  it("answers what folding every segment answers after segments moved to archive/", async () => {
    const accepted: string[] = [];
    const spool = openServer();
    const finished = Array.from({ length: 6 }, (_, mail): Op[] => [
      { kind: "accept" },
      { kind: "attempt", mail, state: "sent" },
    ]).flat();
    const queued = Array.from({ length: 4 }, (): Op => ({ kind: "accept" }));
    await runHistory(spool, [...finished, { kind: "rotate" }, ...queued, { kind: "rotate" }], accepted);
    const later = Date.now() + 3 * 86_400_000;
    expect((await compactSpool(spool, { retentionDays: 30, log, now: () => later })).archivedSegments).toBeGreaterThan(
      0,
    );
    await spool.close();
    await appendPastIndex(someOps, accepted);
    const { fallbacks, ...seen } = await read(accepted);
    expect(fallbacks).toEqual([]);
    expect(seen).toEqual({ seen: (await fullFold(accepted)).seen, daily: (await fullFold(accepted)).daily });
    expect(seen.seen.mails.some((entry) => entry?.location.archived)).toBe(true);
  });

  const damages: [string, RegExp, (file: string) => void][] = [
    ["missing", /is missing/, (file) => fs.rmSync(file)],
    [
      "torn in half",
      /is cut short|unreadable/,
      (file) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2)),
    ],
    ["garbage", /unreadable/, (file) => fs.writeFileSync(file, "not a database".repeat(500))],
    ["of another format", /another format/, (file) => setMeta(file, "format", "0")],
    ["an unfinished build", /did not finish/, (file) => setMeta(file, "complete", "0")],
    ["from before the machine restarted", /machine restarted/, (file) => setMeta(file, "boot", "another boot")],
    ["left with changes in its WAL by a crash", /did not stop cleanly/, leaveWal],
  ];
  it.each(damages)("an index file %s: every segment is read, and the reader says why once", async (_, why, damage) => {
    const accepted = await history(someOps);
    damage(indexFile(dataDir));
    const { seen, daily, fallbacks } = await read(accepted);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(why);
    expect({ seen, daily }).toEqual({ seen: (await fullFold(accepted)).seen, daily: (await fullFold(accepted)).daily });
  });

  it("an index without the server's daily counts (as reindex builds it) is not used for them", async () => {
    const spool = Spool.open({ dataDir, log, minFreeBytes: -1 });
    const accepted: string[] = [];
    await runHistory(spool, someOps, accepted);
    await spool.close();
    const { fallbacks, ...rest } = await read(accepted);
    expect(fallbacks).toEqual([expect.stringMatching(/holds no daily counts/)]);
    expect(rest).toEqual({ seen: (await fullFold(accepted)).seen, daily: (await fullFold(accepted)).daily });
  });

  it("changes nothing in data/: the index, its -wal and -shm included", async () => {
    const accepted = await history(someOps);
    await appendPastIndex(someOps, accepted);
    const before = tree(dataDir);
    expect((await read(accepted)).fallbacks).toEqual([]);
    expect(tree(dataDir)).toEqual(before);

    // a reader that overlapped the server's stop leaves an empty -wal and a -shm behind
    const server = openServer();
    const overlapping = new Database(indexFile(dataDir), { readonly: true });
    overlapping.query("SELECT count(*) FROM mails").get();
    await server.close();
    overlapping.close();
    expect(fs.statSync(`${indexFile(dataDir)}-wal`).size).toBe(0);
    const withWal = tree(dataDir);
    expect(await read(accepted)).toEqual(await fullFold(accepted));
    expect(tree(dataDir)).toEqual(withWal);
  });

  it("reads a read-only data directory through its index", async (context) => {
    const accepted = await history(someOps);
    await appendPastIndex(someOps, accepted);
    const expected = await fullFold(accepted);
    const tmpfs = mountTmpfs("16m");
    if (typeof tmpfs === "string") return context.skip(tmpfs);
    try {
      fs.cpSync(dataDir, path.join(tmpfs.dir, "data"), { recursive: true });
      tmpfs.readOnly();
      dataDir = path.join(tmpfs.dir, "data");
      expect(await read(accepted)).toEqual(expected);
    } finally {
      dataDir = path.join(root, "data");
      tmpfs.unmount();
    }
  });

  it("reads again when the index file changes while it is read without a lock (a server started)", async () => {
    const accepted = await history(someOps);
    let reads = 0;
    const sizes = await readSpool({ dataDir, log }, ({ mails }) => {
      reads += 1;
      if (reads === 1) fs.utimesSync(indexFile(dataDir), new Date(), new Date(Date.now() + 60_000));
      return mails.size;
    });
    expect(reads).toBe(2);
    expect(sizes).toBe(accepted.length);
  });
});

function setMeta(file: string, key: string, value: string): void {
  const db = new Database(file);
  db.query("UPDATE meta SET value = ? WHERE key = ?").run(value, key);
  db.close();
}

/** What a server killed mid-run leaves: a -wal with changes not yet in the file. */
function leaveWal(file: string): void {
  const db = new Database(file);
  db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('written-before-the-crash', '1')").run();
  fs.copyFileSync(`${file}-wal`, `${file}.kept`);
  db.close();
  fs.renameSync(`${file}.kept`, `${file}-wal`);
}
