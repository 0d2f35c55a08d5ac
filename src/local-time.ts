// Local calendar time in a configured zone (delivery.timezone; "" = the host's): the day
// and hour a moment falls in, and how long until the next one starts. For daily limits
// and quota windows. A DST shift may make "until" an hour off; callers check again then.

export class LocalClock {
  private readonly format: Intl.DateTimeFormat;

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

  /** The local hour a moment falls in, computed once per hour (formatToParts costs microseconds). */
  private cache: { from: number; until: number; hour: string; day: string; dayEnd: number } | null = null;

  private window(ms: number) {
    if (this.cache && ms >= this.cache.from && ms < this.cache.until) return this.cache;
    const p = Object.fromEntries(this.format.formatToParts(ms).map((part) => [part.type, part.value]));
    const intoHour = (Number(p.minute) * 60 + Number(p.second)) * 1000 + (ms % 1000);
    const intoDay = Number(p.hour) * 3_600_000 + intoHour;
    const from = ms - intoHour;
    this.cache = {
      from,
      until: from + 3_600_000,
      hour: `${p.year}-${p.month}-${p.day}T${p.hour}`,
      day: `${p.year}-${p.month}-${p.day}`,
      dayEnd: ms - intoDay + 86_400_000,
    };
    return this.cache;
  }

  /** "2026-11-23" */
  dayOf(ms: number): string {
    return this.window(ms).day;
  }

  /** "2026-11-23T14" */
  hourOf(ms: number): string {
    return this.window(ms).hour;
  }

  msUntilMidnight(ms: number): number {
    return this.window(ms).dayEnd - ms;
  }

  msUntilNextHour(ms: number): number {
    return this.window(ms).until - ms;
  }
}
