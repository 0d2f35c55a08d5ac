// Pickup under generated input (in-process, real spool, 50 ms scans): random sequences of
// entry kinds, in random name order, landing while scans run. Every regular valid file is
// ingested exactly once (one accepted record under its key), every other entry is moved to
// rejected/ once with the reason for its kind and never ingested, and the directory drains
// within a bound (the watcher never stalls). With a read that never returns (fault
// injection), the entries after it are still ingested and the stuck one is not retried
// until its read ends.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { readPickupEntry } from "../../src/pickup/pickup-entry.js";
import { PickupWatcher } from "../../src/pickup/watcher.js";
import { entryKinds, makeEntry, reasonPattern, type EntryContext, type EntryKind } from "../helpers/pickup-entries.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { scanSpool } from "../helpers/reliability.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const maxBodyBytes = 30_000;
let relay: InProcessRelay;
let context: EntryContext;
beforeAll(async () => {
  relay = await startInProcess(`server:\n  maxBodyBytes: ${maxBodyBytes}\n`, { pickupIntervalMs: 50 });
  context = {
    pickup: path.join(relay.dir, "data/pickup"),
    outside: tmpDir("mailspool-outside-"),
    maxBytes: Math.ceil(maxBodyBytes / 3) * 4 + 1024 * 1024,
    secret: "LEAKED-SECRET-MARKER",
    own: "OWN-CONTENT-MARKER",
    servers: [],
  };
});
afterAll(async () => {
  for (const server of context.servers) server.close();
  await relay?.stop();
});

const gone = (file: string) => {
  try {
    fs.lstatSync(file);
    return false;
  } catch {
    return true;
  }
};

let run = 0;

it("every valid file is ingested exactly once, every other entry rejected once, and the directory drains", async () => {
  const entry = fc.record({ kind: fc.constantFrom(...entryKinds), order: fc.nat(999), pauseMs: fc.nat(15) });
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 10 }), async (entries) => {
      run += 1;
      const made = entries.map((e, i) => ({ ...e, name: `r${run}-${String(e.order).padStart(3, "0")}-${i}.json` }));
      for (const e of made) {
        await makeEntry(context, e.name, e.kind, `subject ${e.name}`);
        if (e.pauseMs) await new Promise((resolve) => setTimeout(resolve, e.pauseMs));
      }
      await waitFor(() => made.every((e) => gone(path.join(context.pickup, e.name))), 5_000, "the directory to drain");
      const keys = scanSpool(path.join(relay.dir, "data"))
        .records.filter((r) => r.type === "accepted")
        .map((r) => (r as { idempotencyKey?: string }).idempotencyKey);
      for (const e of made) {
        const ingested = keys.filter((k) => k === `pickup:${e.name}`).length;
        const rejected = path.join(context.pickup, "rejected", e.name);
        if (e.kind === "valid") {
          expect(ingested, e.name).toBe(1);
          expect(gone(rejected), e.name).toBe(true);
        } else {
          expect(ingested, e.name).toBe(0);
          const reason = fs.readFileSync(`${rejected}.reason.txt`, "utf8");
          expect(reason, e.name).toMatch(reasonPattern[e.kind as Exclude<EntryKind, "valid">]);
          expect(reason).not.toContain(context.secret);
          expect(reason).not.toContain(context.own);
        }
      }
    }),
    { numRuns: 40 },
  );
}, 180_000);

it("a read that never returns holds up neither the entries after it nor shutdown, and is not retried meanwhile", async () => {
  await relay.pickup.stop();
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const reads: string[] = [];
  let stuckRead: Promise<unknown> = Promise.resolve();
  const lines: string[] = [];
  const watcher = new PickupWatcher({
    spool: relay.spool,
    intake: relay.app.intake.accept,
    actions: relay.delivery,
    log: createLogger("warn", { write: (line: string) => void lines.push(line) }),
    intervalMs: 50,
    entryTimeoutMs: 200,
    readEntry: async (file, maxBytes) => {
      reads.push(path.basename(file));
      if (!file.endsWith("a-stuck.json")) return readPickupEntry(file, maxBytes);
      stuckRead = held.then(() => readPickupEntry(file, maxBytes));
      return stuckRead as Promise<Buffer>;
    },
  });
  await makeEntry(context, "a-stuck.json", "valid", "stuck");
  await makeEntry(context, "b-next.json", "valid", "next");
  watcher.start();
  try {
    await waitFor(() => gone(path.join(context.pickup, "b-next.json")), 5_000, "the entry after the stuck one");
    await waitFor(() => lines.length > 0, 3_000, "the warning");
    for (const later of ["c-later.json", "d-later.json"]) {
      await makeEntry(context, later, "valid", later);
      await waitFor(() => gone(path.join(context.pickup, later)), 5_000, later);
    }
    expect(reads.filter((n) => n === "a-stuck.json")).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("taking long");
    const stopping = Date.now();
    await watcher.stop();
    expect(Date.now() - stopping).toBeLessThan(3_000); // not the stuck read's (it never returns)
    expect(relay.spool.index.byIdempotencyKey("pickup:a-stuck.json", new Date(0))).toBeUndefined();
  } finally {
    release();
  }
  // once its read ends the file is still there for the next start: a stopped watcher applies nothing
  await stuckRead;
  await new Promise((resolve) => setImmediate(resolve));
  expect(gone(path.join(context.pickup, "a-stuck.json"))).toBe(false);
  expect(relay.spool.index.byIdempotencyKey("pickup:a-stuck.json", new Date(0))).toBeUndefined();
});
