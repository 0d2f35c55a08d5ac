// `mailspool spool stat` on the binary against spools with known contents, written through
// the real spool writer and blob store: counts by state, the queue (waiting recipients, by
// domain, the oldest's age), bytes on disk, today's count per upstream against dailyLimit
// (yesterday's and other upstreams' not mixed in), the --json shape, the table, the outbox.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import type { NewRecord } from "../../src/spool/record.js";
import { Spool } from "../../src/spool/spool.js";
import type { RecipientState, MailState } from "../../src/types.js";
import { runCli } from "../helpers/cli.js";
import { writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const now = Date.now();
const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString();

/** A fixed-offset zone whose local time is far from midnight now, so "today" cannot flip during the test. */
function zoneAwayFromMidnight(): string {
  for (let offset = -12; offset <= 12; offset += 1) {
    const zone = offset === 0 ? "UTC" : `Etc/GMT${offset > 0 ? "+" : "-"}${Math.abs(offset)}`;
    const hour = Number(
      new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", hourCycle: "h23" }).format(now),
    );
    if (hour >= 6 && hour <= 20) return zone;
  }
  throw new Error("no zone found");
}

interface MailSpec {
  id: string;
  minutesAgo: number;
  to: string[];
  cc?: string[];
  outcomes?: { upstream: string; minutesAgo: number; recipients: Record<string, RecipientState> }[];
  end?: MailState;
  cancel?: boolean;
  attachments?: { sha256: string; size: number }[];
}

async function writeSpool(
  dir: string,
  mails: MailSpec[],
  blobs: Buffer[] = [],
): Promise<{ sha256: string; size: number }[]> {
  const spool = Spool.open({ dataDir: path.join(dir, "data"), log: createLogger("silent"), minFreeBytes: -1 });
  const stored = [];
  for (const bytes of blobs) {
    const writer = await spool.blobs.create();
    await writer.write(bytes);
    stored.push(await writer.commit());
  }
  await spool.blobs.syncDir();
  const address = (a: string) => ({ address: a });
  for (const m of mails) {
    const records: NewRecord[] = [
      {
        type: "accepted",
        id: m.id,
        ts: ago(m.minutesAgo),
        client: "127.0.0.1",
        mail: {
          subject: m.id,
          html: "<p>x</p>",
          to: m.to.map(address),
          cc: (m.cc ?? []).map(address),
          bcc: [],
          attachments: (m.attachments ?? []).map((a, i) => ({
            filename: `f${i}.bin`,
            contentType: "application/octet-stream",
            ...a,
          })),
          messageId: `<${m.id}@example.com>`,
        },
      },
    ];
    for (const o of m.outcomes ?? []) {
      const to = Object.keys(o.recipients);
      const ok = Object.values(o.recipients).some((s) => s === "sent");
      records.push({
        type: "outcome",
        id: m.id,
        ts: ago(o.minutesAgo),
        attempt: 1,
        transaction: {
          upstream: o.upstream,
          envelope: { from: "relay@example.com", to },
          code: ok ? 250 : 550,
          response: ok ? "ok" : "no",
        },
        recipients: Object.entries(o.recipients).map(([a, state]) => ({ address: a, state })),
      });
    }
    if (m.end)
      records.push({
        type: "attempt",
        id: m.id,
        ts: ago((m.outcomes?.at(-1)?.minutesAgo ?? m.minutesAgo) - 0.01),
        attempt: 1,
        state: m.end,
        ...(m.end === "deferred" ? { nextAttemptAt: new Date(now + 600_000).toISOString() } : {}),
      });
    if (m.cancel) records.push({ type: "cancel", id: m.id, ts: ago(m.minutesAgo - 1), reason: "test" });
    for (const record of records) await spool.append(record);
  }
  await spool.close();
  return stored;
}

const sizeOf = (dir: string) =>
  fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);

describe("spool stat", () => {
  it("counts what the spool holds, with today's count per upstream against its dailyLimit", async () => {
    const dir = tmpDir();
    const zone = zoneAwayFromMidnight();
    writeConfig(
      dir,
      [
        "delivery:",
        `  timezone: ${zone}`,
        "  upstreams:",
        "    - { name: primary, host: relay.example.com, dailyLimit: 10 }",
        "    - { name: backup, host: backup.example.com, dailyLimit: 1 }",
        "    - { name: spare, host: spare.example.com }",
      ].join("\n"),
    );
    const blobs = [Buffer.alloc(1000, 1), Buffer.alloc(2345, 2)];
    const attachments = blobs.map((b) => ({ sha256: createHash("sha256").update(b).digest("hex"), size: b.length }));
    const stored = await writeSpool(
      dir,
      [
        { id: "m-cancelled", minutesAgo: 360, to: ["z@x.test"], cancel: true },
        {
          id: "m-failed",
          minutesAgo: 300,
          to: ["k@x.test"],
          outcomes: [{ upstream: "primary", minutesAgo: 299, recipients: { "k@x.test": "failed-permanent" } }],
          end: "failed",
        },
        {
          id: "m-partial",
          minutesAgo: 240,
          to: ["i@x.test", "j@x.test"],
          outcomes: [
            { upstream: "backup", minutesAgo: 239, recipients: { "i@x.test": "sent", "j@x.test": "failed-permanent" } },
          ],
          end: "partial",
        },
        {
          id: "m-sent",
          minutesAgo: 180,
          to: ["g@x.test", "h@x.test"],
          outcomes: [{ upstream: "primary", minutesAgo: 179, recipients: { "g@x.test": "sent", "h@x.test": "sent" } }],
          end: "sent",
        },
        {
          id: "m-yesterday",
          minutesAgo: 27 * 60,
          to: ["y@x.test"],
          outcomes: [{ upstream: "primary", minutesAgo: 26 * 60, recipients: { "y@x.test": "sent" } }],
          end: "sent",
        },
        { id: "m-queued-old", minutesAgo: 120, to: ["a@x.test", "b@x.test"], cc: ["c@y.test"], attachments },
        {
          id: "m-deferred",
          minutesAgo: 60,
          to: ["e@z.test", "f@x.test"],
          outcomes: [
            { upstream: "primary", minutesAgo: 59, recipients: { "f@x.test": "sent", "e@z.test": "deferred" } },
          ],
          end: "deferred",
        },
        { id: "m-queued-new", minutesAgo: 30, to: ["d@y.test"] },
        {
          id: "m-old-relay",
          minutesAgo: 10,
          to: ["o@x.test", "p@x.test"],
          outcomes: [{ upstream: "old-relay", minutesAgo: 9, recipients: { "o@x.test": "sent", "p@x.test": "sent" } }],
          end: "sent",
        },
      ],
      blobs,
    );
    expect(stored).toEqual(attachments);

    const result = runCli(["spool", "stat", "--json"], dir);
    expect(result.code, result.stderr).toBe(0);
    const stat = JSON.parse(result.stdout);
    expect(stat.mails).toEqual({
      scheduled: 0,
      queued: 2,
      deferred: 1,
      sent: 3,
      partial: 1,
      failed: 1,
      cancelled: 1,
      total: 9,
    });
    expect(stat.queue).toMatchObject({
      mails: 3,
      recipients: 5,
      oldest: { id: "m-queued-old", acceptedAt: ago(120) },
      domains: [
        { domain: "x.test", recipients: 2 },
        { domain: "y.test", recipients: 2 },
        { domain: "z.test", recipients: 1 },
      ],
    });
    expect(stat.queue.oldest.ageSeconds).toBeGreaterThanOrEqual(7200);
    expect(stat.queue.oldest.ageSeconds).toBeLessThan(7200 + 60);
    expect(stat.bytes).toEqual({
      spool: { bytes: sizeOf(path.join(dir, "data/spool")), files: 1, segments: 1 },
      archive: { bytes: 0, files: 0, segments: 0 },
      blobs: { bytes: 3345, files: 2 },
    });
    expect(stat.delivery).toEqual({
      day: new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(now),
      timezone: zone,
      embeddedOutbox: false,
      upstreams: [
        { name: "primary", today: 3, dailyLimit: 10, configured: true },
        { name: "backup", today: 1, dailyLimit: 1, configured: true },
        { name: "spare", today: 0, dailyLimit: 0, configured: true },
        { name: "old-relay", today: 2, dailyLimit: 0, configured: false },
      ],
    });

    const table = runCli(["spool", "stat"], dir);
    expect(table.code).toBe(0);
    for (const row of [/^queued +2$/m, /^deferred +1$/m, /^sent +3$/m, /^total +9$/m])
      expect(table.stdout).toMatch(row);
    expect(table.stdout).toContain("queue: 3 mails to 5 recipients");
    expect(table.stdout).toMatch(/oldest: 2h( 0m)? \(m-queued-old/);
    expect(table.stdout).toContain("waiting by domain: x.test 2, y.test 2, z.test 1");
    expect(table.stdout).toContain("blobs/ 3.3 KiB in 2 files");
    expect(table.stdout).toMatch(/^primary +3 +10 \(30% used\)$/m);
    expect(table.stdout).toMatch(/^backup +1 +1 \(reached: the next upstream takes over\)$/m);
    expect(table.stdout).toMatch(/^spare +0 +none$/m);
    expect(table.stdout).toMatch(/^old-relay +2 +none +\(not in the config any more\)$/m);
    expect(runCli(["fsck"], dir).code).toBe(0);
  });

  it("with no upstream shows the embedded outbox's count today, and an empty queue", async () => {
    const dir = tmpDir();
    writeConfig(dir, `delivery:\n  timezone: ${zoneAwayFromMidnight()}`);
    await writeSpool(dir, [
      {
        id: "m1",
        minutesAgo: 5,
        to: ["a@x.test", "b@x.test"],
        outcomes: [{ upstream: "outbox", minutesAgo: 4, recipients: { "a@x.test": "sent", "b@x.test": "sent" } }],
        end: "sent",
      },
    ]);
    const stat = JSON.parse(runCli(["spool", "stat", "--json"], dir).stdout);
    expect(stat.queue).toEqual({ mails: 0, recipients: 0, oldest: null, domains: [] });
    expect(stat.delivery).toMatchObject({
      embeddedOutbox: true,
      upstreams: [{ name: "outbox", today: 2, dailyLimit: 0, configured: true }],
    });
    const table = runCli(["spool", "stat"], dir).stdout;
    expect(table).toContain("queue: empty");
    expect(table).toMatch(/^outbox +2 +none +\(the embedded outbox: no upstream configured\)$/m);
  });
});
