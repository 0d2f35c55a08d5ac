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
  const { total, failed } = index.attemptsEndedSince(
    new Date(now - 3_600_000).toISOString(),
    new Date(now - 86_400_000).toISOString(),
  );
  return total >= minimumAttempts ? (failed / total) * 100 : null;
}

/** An active alert's figures at the last evaluation, against its limit. */
export interface AlertState {
  alert: "backlog" | "failure_rate";
  value: number;
  limit: number;
}

export class Alerts {
  private readonly active = new Map<string, AlertState>();
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
    return [...this.active.keys()];
  }

  /** The active alerts with their figures (for /health's reasons), in a stable order. */
  get activeStates(): AlertState[] {
    return [...this.active.values()].sort((a, b) => a.alert.localeCompare(b.alert));
  }

  evaluate(): void {
    const now = this.now();
    const oldest = oldestQueuedSeconds(this.index, now);
    // the failure rate reads every attempt of the last hour: only when its alert is on
    const rate = this.limits.failureRatePercent > 0 ? failureRatePercent(this.index, now) : null;
    this.set(
      { alert: "backlog", value: Math.round(oldest / 60), limit: this.limits.oldestQueuedMinutes },
      this.limits.oldestQueuedMinutes > 0 && oldest > this.limits.oldestQueuedMinutes * 60,
      { oldestQueuedMinutes: Math.round(oldest / 60) },
    );
    this.set(
      { alert: "failure_rate", value: Math.round(rate ?? 0), limit: this.limits.failureRatePercent },
      this.limits.failureRatePercent > 0 && rate !== null && rate > this.limits.failureRatePercent,
      { failureRatePercent: rate === null ? null : Math.round(rate) },
    );
  }

  private set(state: AlertState, on: boolean, details: Record<string, unknown>): void {
    const { alert } = state;
    this.metrics.alerts.set({ alert }, on ? 1 : 0);
    const was = this.active.has(alert);
    if (on) this.active.set(alert, state);
    if (on === was) return;
    if (on) {
      this.log.warn({ alert, ...details, limits: this.limits }, "alert raised");
    } else {
      this.active.delete(alert);
      this.log.info({ alert, ...details }, "alert cleared");
    }
  }
}
