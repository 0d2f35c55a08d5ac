// The delivery queue: a ready FIFO that workers wait on, plus unref'd timers that move
// deferred mails into it when their next attempt is due.
import type { MailId } from "../types.js";
import type { WorkQueue } from "./work-queue.js";

export class DeliveryQueue implements WorkQueue {
  private ready: MailId[] = [];
  private head = 0;
  private readonly waiters: ((id: MailId | null) => void)[] = [];
  private readonly timers = new Map<MailId, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  get readyCount(): number {
    return this.ready.length - this.head;
  }

  get delayedCount(): number {
    return this.timers.size;
  }

  push(id: MailId): void {
    if (this.closed) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(id);
    else this.ready.push(id);
  }

  /** Back to the head of the line (a worker that was paused while it waited). */
  pushFront(id: MailId): void {
    if (this.closed) return;
    if (this.head > 0) {
      this.head -= 1;
      this.ready[this.head] = id;
    } else {
      this.ready.unshift(id);
    }
  }

  schedule(id: MailId, at: number): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const delay = at - this.now();
    if (delay <= 0) return this.push(id);
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        this.push(id);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.timers.set(id, timer);
  }

  /** The next ready mail, or null once the queue is closed. */
  take(): Promise<MailId | null> {
    if (this.closed) return Promise.resolve(null);
    if (this.head < this.ready.length) {
      const id = this.ready[this.head]!;
      this.head += 1;
      if (this.head > 1024 && this.head * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(id);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(null);
  }
}
