// Accepted mails per fixed hour and day window (local time, delivery.timezone), per client
// and global; 0 = unlimited. Fed by the spool's accepted records and kept in the spool
// index with its position, so start-up counts on from where the index stopped. Over quota → 429 with the seconds until the window ends; logged once per window.
import { MailspoolError } from "../errors.js";
import { LocalClock } from "../local-time.js";
import type { Logger } from "../log.js";
import type { SpoolRecord } from "../spool/record.js";

export interface QuotaLimits {
  perClient: { hour: number; day: number };
  global: { hour: number; day: number };
}

const globalScope = "*";

export class Quotas {
  private readonly clock: LocalClock;
  private readonly counts = new Map<string, number>();
  private readonly logged = new Set<string>();
  private windows = "";

  constructor(
    private limits: QuotaLimits,
    timezone: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.clock = new LocalClock(timezone);
  }

  setLimits(limits: QuotaLimits): void {
    this.limits = limits;
  }

  /** What the spool index keeps of it, so a restart that folds only new records counts on from here. */
  state(): [string, number][] {
    return [...this.counts];
  }

  restore(state: unknown): void {
    this.counts.clear();
    for (const [key, count] of (state as [string, number][] | undefined) ?? []) this.counts.set(key, count);
  }

  /** Spool observer: counts accepted mails (pickup files are the operator's and exempt). */
  observe(record: SpoolRecord): void {
    if (record.type !== "accepted" || record.client === "pickup") return;
    const ms = Date.parse(record.ts);
    for (const key of this.keys(record.client, ms)) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Throws 429 when `count` more mails from this client would exceed a quota. */
  check(client: string, count = 1): void {
    const { perClient, global } = this.limits;
    if (perClient.hour <= 0 && perClient.day <= 0 && global.hour <= 0 && global.day <= 0) return;
    const now = this.now();
    this.forgetOldWindows(now);
    const hour = this.clock.hourOf(now);
    const day = this.clock.dayOf(now);
    const rules: [string, string, number, () => number][] = [
      [client, `h${hour}`, this.limits.perClient.hour, () => this.clock.msUntilNextHour(now)],
      [client, `d${day}`, this.limits.perClient.day, () => this.clock.msUntilMidnight(now)],
      [globalScope, `h${hour}`, this.limits.global.hour, () => this.clock.msUntilNextHour(now)],
      [globalScope, `d${day}`, this.limits.global.day, () => this.clock.msUntilMidnight(now)],
    ];
    for (const [scope, window, limit, untilEnd] of rules) {
      const key = `${scope}|${window}`;
      if (limit <= 0 || (this.counts.get(key) ?? 0) + count <= limit) continue;
      const retryAfterSeconds = Math.max(1, Math.ceil(untilEnd() / 1000));
      if (!this.logged.has(key)) {
        this.logged.add(key);
        this.log.warn(
          { client: scope === globalScope ? "(global)" : scope, window, limit },
          "quota reached; refusing until the window ends",
        );
      }
      throw new MailspoolError(
        "rate_limited",
        `Quota of ${limit} mails per ${window.startsWith("h") ? "hour" : "day"} reached${scope === globalScope ? " (global)" : ""}`,
        { retryAfterSeconds },
      );
    }
  }

  private keys(client: string, ms: number): string[] {
    const hour = `h${this.clock.hourOf(ms)}`;
    const day = `d${this.clock.dayOf(ms)}`;
    return [`${client}|${hour}`, `${client}|${day}`, `${globalScope}|${hour}`, `${globalScope}|${day}`];
  }

  private forgetOldWindows(now: number): void {
    const current = `${this.clock.hourOf(now)}|${this.clock.dayOf(now)}`;
    if (current === this.windows) return;
    this.windows = current;
    const live = new Set([`h${this.clock.hourOf(now)}`, `d${this.clock.dayOf(now)}`]);
    for (const key of this.counts.keys()) if (!live.has(key.slice(key.lastIndexOf("|") + 1))) this.counts.delete(key);
    this.logged.clear();
  }
}
