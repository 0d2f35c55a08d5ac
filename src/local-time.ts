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

  private parts(ms: number): Record<string, string> {
    return Object.fromEntries(this.format.formatToParts(ms).map((p) => [p.type, p.value]));
  }

  /** "2026-11-23" */
  dayOf(ms: number): string {
    const p = this.parts(ms);
    return `${p.year}-${p.month}-${p.day}`;
  }

  /** "2026-11-23T14" */
  hourOf(ms: number): string {
    const p = this.parts(ms);
    return `${p.year}-${p.month}-${p.day}T${p.hour}`;
  }

  msUntilMidnight(ms: number): number {
    const p = this.parts(ms);
    return 86_400_000 - (((Number(p.hour) * 60 + Number(p.minute)) * 60 + Number(p.second)) * 1000 + (ms % 1000));
  }

  msUntilNextHour(ms: number): number {
    const p = this.parts(ms);
    return 3_600_000 - ((Number(p.minute) * 60 + Number(p.second)) * 1000 + (ms % 1000));
  }
}
