// Alerts (alerts.oldestQueuedMinutes, alerts.failureRatePercent; 0 = off), evaluated every
// 15 s from the index: a warning log line once per episode (and one when it clears), the
// mailspool_alert_active gauge, and /health `degraded` while one is active.
import type { Logger } from "../log.js";
import { oldestQueuedSeconds, type Metrics } from "../metrics.js";
import type { MailIndex } from "../spool/mail-index.js";

export interface AlertLimits {
  oldestQueuedMinutes: number;
  failureRatePercent: number;
}

const minimumAttempts = 5;

/** Failed share of the attempts that ended in the last hour, or null with too few to judge. */
export function failureRatePercent(index: MailIndex, now: number): number | null {
  const since = new Date(now - 3_600_000).toISOString();
  let total = 0;
  let failed = 0;
  for (const entry of index.entries()) {
    for (const attempt of entry.attempts) {
      if (!attempt.endedAt || attempt.endedAt < since) continue;
      total += 1;
      if (attempt.state !== "sent") failed += 1;
    }
  }
  return total >= minimumAttempts ? (failed / total) * 100 : null;
}

export class Alerts {
  private readonly active = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly index: MailIndex,
    private readonly metrics: Metrics,
    private limits: AlertLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs = 15_000): void {
    this.evaluate();
    this.timer = setInterval(() => this.evaluate(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  setLimits(limits: AlertLimits): void {
    this.limits = limits;
  }

  get activeAlerts(): string[] {
    return [...this.active];
  }

  evaluate(): void {
    const now = this.now();
    const oldest = oldestQueuedSeconds(this.index, now);
    const rate = failureRatePercent(this.index, now);
    this.set("backlog", this.limits.oldestQueuedMinutes > 0 && oldest > this.limits.oldestQueuedMinutes * 60, {
      oldestQueuedMinutes: Math.round(oldest / 60),
    });
    this.set(
      "failure_rate",
      this.limits.failureRatePercent > 0 && rate !== null && rate > this.limits.failureRatePercent,
      { failureRatePercent: rate === null ? null : Math.round(rate) },
    );
  }

  private set(alert: string, on: boolean, details: Record<string, unknown>): void {
    this.metrics.alerts.set({ alert }, on ? 1 : 0);
    if (on === this.active.has(alert)) return;
    if (on) {
      this.active.add(alert);
      this.log.warn({ alert, ...details, limits: this.limits }, "alert raised");
    } else {
      this.active.delete(alert);
      this.log.info({ alert, ...details }, "alert cleared");
    }
  }
}
