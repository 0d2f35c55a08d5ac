// The counters folded from the spool's records and saved with its index (restored at the
// next start rather than folded again): today's sends per upstream for dailyLimit, each
// client's quota windows and, in cluster mode, how far each other host's records are
// copied. Serve and reindex make them the same way, so a rebuilt index keeps them.
import { JournalMarks } from "./cluster/journal-marks.js";
import type { Config } from "./config.js";
import type { CountingObserver } from "./spool/spool.js";
import { DailyCounter } from "./delivery/daily-counter.js";
import { Quotas } from "./intake/quotas.js";
import type { Logger } from "./log.js";

export function spoolCounters(
  config: Config,
  log: Logger,
  now?: () => number,
): { daily: DailyCounter; quotas: Quotas; marks: JournalMarks | null; all: Record<string, CountingObserver> } {
  const daily = new DailyCounter(config.delivery.timezone);
  const quotas = new Quotas(config.quotas, config.delivery.timezone, log.child({ component: "quotas" }), now);
  const marks = config.broker.url ? new JournalMarks() : null;
  return { daily, quotas, marks, all: { daily, quotas, ...(marks ? { journal: marks } : {}) } };
}
