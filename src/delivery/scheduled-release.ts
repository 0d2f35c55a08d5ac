// Scheduled mails wait in the index, not in memory: one timer is armed for the earliest
// `send_at` still ahead, and when it fires the due mails are read from the index in time
// order (past a cursor, so none is handed out twice) and pushed to the delivery queue. A
// newly accepted scheduled mail re-arms the timer only when it is due before it. Memory
// stays the same for ten scheduled mails or a hundred thousand.
import type { MailIndex, ScheduleCursor } from "../spool/mail-index.js";
import type { MailId } from "../types.js";

/** Due mails taken from the index per turn (the rest follow at once, a turn later). */
const releaseBatch = 1000;

export class ScheduledRelease {
  private cursor: ScheduleCursor | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (ms), or null. */
  private armedAt: number | null = null;
  private stopped = false;

  constructor(
    private readonly index: Pick<MailIndex, "scheduledAfter">,
    private readonly push: (id: MailId) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Releases what is due now (a restart's backlog) and arms the timer for the rest. */
  start(): void {
    this.stopped = false;
    this.release();
  }

  /** A mail scheduled for `at` was accepted: the timer moves earlier if it must. */
  scheduled(at: string): void {
    const time = Date.parse(at);
    if (this.stopped || (this.armedAt !== null && this.armedAt <= time)) return;
    this.arm(time);
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private release(): void {
    this.disarm();
    if (this.stopped) return;
    const { due, next } = this.index.scheduledAfter(this.cursor, new Date(this.now()).toISOString(), releaseBatch);
    for (const mail of due) this.push(mail.id);
    if (due.length) this.cursor = due.at(-1)!;
    if (next !== null) this.arm(Date.parse(next));
  }

  private arm(at: number): void {
    this.disarm();
    this.armedAt = at;
    // a timer longer than 2^31-1 ms fires at once: a far time is armed in steps
    const delay = Math.min(Math.max(0, at - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.release(), delay);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = null;
  }
}
