// mailspool spool stat: what `mailq`'s last line and `qshape` tell a Postfix operator —
// mails by state, the queue (queued and deferred mails, their waiting recipients by domain,
// the oldest one's age), bytes on disk, and per upstream today's accepted recipients against
// its dailyLimit (rebuilt from the spool's outcome records, as serve does at start).
import type { Command } from "commander";
import type { LoadedConfig } from "../config.js";
import { DailyCounter } from "../delivery/daily-counter.js";
import { LocalClock } from "../local-time.js";
import { diskUsage, type DiskUsage } from "../spool/disk-usage.js";
import type { MailReader } from "../spool/mail-reader.js";
import { locateSpool, readSpoolOf, type ConfigOption } from "./context.js";
import { statTable } from "./spool-stat-table.js";
import { printOut } from "./stdout.js";

/** States a reader can see: `sending` lives in the server's memory only (a reader counts those mails as queued). */
export const statStates = ["scheduled", "queued", "deferred", "sent", "partial", "failed", "cancelled"] as const;
const queueStates = ["queued", "sending", "deferred"] as const;
const topDomains = 10;

export interface UpstreamToday {
  name: string;
  /** Recipients it accepted since local midnight. */
  today: number;
  /** 0 = none. */
  dailyLimit: number;
  /** false: it accepted mail today but is no longer in the config. */
  configured: boolean;
}

export interface SpoolStat {
  dataDir: string;
  at: string;
  mails: Record<(typeof statStates)[number] | "total", number>;
  queue: {
    mails: number;
    /** Recipients still to be delivered (pending or deferred). */
    recipients: number;
    oldest: { id: string; acceptedAt: string; ageSeconds: number } | null;
    /** The domains with the most waiting recipients, at most 10. */
    domains: { domain: string; recipients: number }[];
  };
  bytes: DiskUsage;
  delivery: { day: string; timezone: string; embeddedOutbox: boolean; upstreams: UpstreamToday[] };
}

function queueOf(index: MailReader, now: number): SpoolStat["queue"] {
  const queued = index.inStates(queueStates);
  let oldest: (typeof queued)[number] | undefined;
  const domains = new Map<string, number>();
  let recipients = 0;
  for (const entry of queued) {
    if (!oldest || entry.acceptedAt < oldest.acceptedAt) oldest = entry;
    for (const r of entry.recipients) {
      if (r.state !== "pending" && r.state !== "deferred") continue;
      recipients += 1;
      const domain = r.address.slice(r.address.lastIndexOf("@") + 1);
      domains.set(domain, (domains.get(domain) ?? 0) + 1);
    }
  }
  return {
    mails: queued.length,
    recipients,
    oldest: oldest
      ? {
          id: oldest.id,
          acceptedAt: oldest.acceptedAt,
          ageSeconds: Math.max(0, Math.floor((now - Date.parse(oldest.acceptedAt)) / 1000)),
        }
      : null,
    domains: [...domains]
      .sort(([a, n], [b, m]) => m - n || a.localeCompare(b))
      .slice(0, topDomains)
      .map(([domain, count]) => ({ domain, recipients: count })),
  };
}

/** Reads the spool of `loaded` and sums it up as of `now`. */
export async function collectStat(loaded: LoadedConfig, now: number): Promise<SpoolStat> {
  const { timezone, upstreams } = loaded.config.delivery;
  // the server keeps this count with its index (as "daily"): restored from it, not counted from every record
  const daily = new DailyCounter(timezone);
  const read = await readSpoolOf(
    loaded,
    ({ mails, paths }) => ({ counts: mails.countByState(), total: mails.size, queue: queueOf(mails, now), paths }),
    { daily },
  );
  const { counts } = read;
  const mails = Object.fromEntries(statStates.map((s) => [s, counts[s]])) as SpoolStat["mails"];
  mails.queued += counts.sending;
  mails.total = read.total;
  // the embedded outbox records its writes as upstream "outbox"
  const configured = upstreams.length ? upstreams : [{ name: "outbox", dailyLimit: 0 }];
  const names = new Set(configured.map((u) => u.name));
  const rows = [
    ...configured.map((u) => ({ name: u.name, dailyLimit: u.dailyLimit, configured: true })),
    ...daily
      .state()
      .all.map(([name]) => name)
      .filter((n) => !names.has(n))
      .map((name) => ({ name, dailyLimit: 0, configured: false })),
  ];
  return {
    dataDir: loaded.dataDir,
    at: new Date(now).toISOString(),
    mails,
    queue: read.queue,
    bytes: diskUsage(read.paths),
    delivery: {
      day: new LocalClock(timezone).dayOf(now),
      timezone: timezone || Intl.DateTimeFormat().resolvedOptions().timeZone,
      embeddedOutbox: upstreams.length === 0,
      upstreams: rows
        .map(({ name, dailyLimit, configured }) => ({ name, today: daily.count(name, now), dailyLimit, configured }))
        .filter((u) => u.configured || u.today > 0),
    },
  };
}

export function registerSpoolStat(spool: Command): void {
  spool
    .command("stat")
    .description("mails by state, the queue (oldest, by domain), bytes on disk, today's count per upstream")
    .option("-c, --config <file>", "config file")
    .option("--json", "one JSON object")
    .action(async (options: ConfigOption & { json?: boolean }) => {
      const stat = await collectStat(locateSpool(options), Date.now());
      printOut(options.json ? `${JSON.stringify(stat, null, 2)}\n` : statTable(stat));
    });
}
