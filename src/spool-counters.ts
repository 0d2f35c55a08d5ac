// The counters folded from the spool's records and saved with its index (restored at the
// next start rather than folded again): today's sends per upstream for dailyLimit, and
// each client's quota windows. Serve and reindex make them the same way, so a rebuilt
// index keeps the limits.
import type { Config } from "./config.js";
import { DailyCounter } from "./delivery/daily-counter.js";
import { Quotas } from "./intake/quotas.js";
import type { Logger } from "./log.js";

export function spoolCounters(
  config: Config,
  log: Logger,
  now?: () => number,
): { daily: DailyCounter; quotas: Quotas } {
  const daily = new DailyCounter(config.delivery.timezone);
  const quotas = new Quotas(config.quotas, config.delivery.timezone, log.child({ component: "quotas" }), now);
  return { daily, quotas };
}
