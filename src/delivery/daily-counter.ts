// Recipients accepted per upstream per local day (delivery.timezone), for dailyLimit.
// Fed by the spool's outcome records and kept in the spool index with its position, so
// start-up counts on from where the index stopped and never counts twice.
import { LocalClock } from "../local-time.js";
import type { SpoolRecord } from "../spool/record.js";

export class DailyCounter {
  private readonly clock: LocalClock;
  private readonly counts = new Map<string, { day: string; count: number }>();

  constructor(timezone: string) {
    this.clock = new LocalClock(timezone);
  }

  /** Milliseconds from `ms` to the next local midnight. */
  msUntilMidnight(ms: number): number {
    return this.clock.msUntilMidnight(ms);
  }

  add(upstream: string, ms: number, recipients: number): void {
    const day = this.clock.dayOf(ms);
    const current = this.counts.get(upstream);
    if (!current || current.day < day) this.counts.set(upstream, { day, count: recipients });
    else if (current.day === day) current.count += recipients;
  }

  count(upstream: string, nowMs: number): number {
    const current = this.counts.get(upstream);
    return current && current.day === this.clock.dayOf(nowMs) ? current.count : 0;
  }

  /** What the spool index keeps of it, so a restart that folds only new records counts on from here. */
  state(): [string, { day: string; count: number }][] {
    return [...this.counts];
  }

  restore(state: unknown): void {
    this.counts.clear();
    for (const [upstream, count] of (state as [string, { day: string; count: number }][] | undefined) ?? [])
      this.counts.set(upstream, count);
  }

  /** Spool observer: counts the recipients an upstream accepted. */
  observe(record: SpoolRecord): void {
    if (record.type !== "outcome") return;
    const sent = record.recipients.filter((r) => r.state === "sent").length;
    if (sent > 0) this.add(record.transaction.upstream, Date.parse(record.ts), sent);
  }
}
