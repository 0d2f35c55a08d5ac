// Recipients accepted per upstream per local day (delivery.timezone), for dailyLimit.
// Fed by the spool's outcome records, so start-up rebuilds it and it never counts twice.
import type { SpoolRecord } from "../spool/record.js";

export class DailyCounter {
  private readonly format: Intl.DateTimeFormat;
  private readonly counts = new Map<string, { day: string; count: number }>();

  constructor(timezone: string) {
    this.format = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone || undefined,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
  }

  private parts(ms: number): Record<string, string> {
    return Object.fromEntries(this.format.formatToParts(ms).map((p) => [p.type, p.value]));
  }

  dayOf(ms: number): string {
    const p = this.parts(ms);
    return `${p.year}-${p.month}-${p.day}`;
  }

  /** Milliseconds from `ms` to the next local midnight (a DST shift may make it an hour off; callers re-check). */
  msUntilMidnight(ms: number): number {
    const p = this.parts(ms);
    const elapsed = ((Number(p.hour) * 60 + Number(p.minute)) * 60 + Number(p.second)) * 1000 + (ms % 1000);
    return 86_400_000 - elapsed;
  }

  add(upstream: string, ms: number, recipients: number): void {
    const day = this.dayOf(ms);
    const current = this.counts.get(upstream);
    if (!current || current.day < day) this.counts.set(upstream, { day, count: recipients });
    else if (current.day === day) current.count += recipients;
  }

  count(upstream: string, nowMs: number): number {
    const current = this.counts.get(upstream);
    return current && current.day === this.dayOf(nowMs) ? current.count : 0;
  }

  /** Spool observer: counts the recipients an upstream accepted. */
  observe(record: SpoolRecord): void {
    if (record.type !== "outcome") return;
    const sent = record.recipients.filter((r) => r.state === "sent").length;
    if (sent > 0) this.add(record.transaction.upstream, Date.parse(record.ts), sent);
  }
}
