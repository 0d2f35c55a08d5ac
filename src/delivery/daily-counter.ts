// Recipients accepted per upstream per local day (delivery.timezone), for dailyLimit.
// Fed by the spool's outcome records and kept in the spool index with its position, so
// start-up counts on from where the index stopped and never counts twice. In cluster mode
// the spool holds every host's outcomes: `count` is the cluster's, `ownCount` this host's
// (records not copied from another host), for its share of the limit.
import { LocalClock } from "../local-time.js";
import type { SpoolRecord } from "../spool/record.js";

export class DailyCounter {
  private readonly clock: LocalClock;
  private readonly counts = new Map<string, { day: string; count: number }>();
  private readonly own = new Map<string, { day: string; count: number }>();

  constructor(timezone: string) {
    this.clock = new LocalClock(timezone);
  }

  /** Milliseconds from `ms` to the next local midnight. */
  msUntilMidnight(ms: number): number {
    return this.clock.msUntilMidnight(ms);
  }

  add(upstream: string, ms: number, recipients: number, own = true): void {
    const day = this.clock.dayOf(ms);
    for (const counts of own ? [this.counts, this.own] : [this.counts]) {
      const current = counts.get(upstream);
      if (!current || current.day < day) counts.set(upstream, { day, count: recipients });
      else if (current.day === day) current.count += recipients;
    }
  }

  count(upstream: string, nowMs: number): number {
    return this.today(this.counts, upstream, nowMs);
  }

  ownCount(upstream: string, nowMs: number): number {
    return this.today(this.own, upstream, nowMs);
  }

  private today(counts: Map<string, { day: string; count: number }>, upstream: string, nowMs: number): number {
    const current = counts.get(upstream);
    return current && current.day === this.clock.dayOf(nowMs) ? current.count : 0;
  }

  /** What the spool index keeps of it, so a restart that folds only new records counts on from here. */
  state(): { all: [string, { day: string; count: number }][]; own: [string, { day: string; count: number }][] } {
    return { all: [...this.counts], own: [...this.own] };
  }

  /** Takes what state() saved (an index from before cluster mode kept only the one list: all of it own). */
  restore(state: unknown): void {
    type Saved = [string, { day: string; count: number }][];
    const saved = Array.isArray(state)
      ? { all: state as Saved, own: state as Saved }
      : ((state as { all?: Saved; own?: Saved } | undefined) ?? {});
    this.counts.clear();
    this.own.clear();
    for (const [upstream, count] of saved.all ?? []) this.counts.set(upstream, { ...count });
    for (const [upstream, count] of saved.own ?? []) this.own.set(upstream, { ...count });
  }

  /** Spool observer: counts the recipients an upstream accepted. */
  observe(record: SpoolRecord): void {
    if (record.type !== "outcome") return;
    const sent = record.recipients.filter((r) => r.state === "sent").length;
    if (sent > 0) this.add(record.transaction.upstream, Date.parse(record.ts), sent, record.via === undefined);
  }
}
