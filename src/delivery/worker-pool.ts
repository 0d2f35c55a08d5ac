// N workers taking mail ids from the queue and running a delivery function on each. The
// pool knows nothing of SMTP; stop() lets in-flight work finish within a grace period.
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import type { WorkQueue } from "./work-queue.js";

export class WorkerPool {
  private readonly inFlight = new Set<Promise<void>>();
  private loops: Promise<void>[] = [];
  private resumed: Promise<void> | null = null;
  private resume: (() => void) | null = null;

  constructor(
    private readonly size: number,
    private readonly queue: WorkQueue,
    private readonly deliver: (id: MailId) => Promise<void>,
    private readonly log: Logger,
  ) {}

  get busy(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.loops = Array.from({ length: this.size }, () => this.work());
  }

  get paused(): boolean {
    return this.resumed !== null;
  }

  /** Workers finish what they hold and take nothing new until resumed. */
  pause(): void {
    this.resumed ??= new Promise((resolve) => (this.resume = resolve));
  }

  unpause(): void {
    this.resume?.();
    this.resumed = null;
    this.resume = null;
  }

  private async work(): Promise<void> {
    for (;;) {
      while (this.resumed) await this.resumed;
      const id = await this.queue.take();
      if (id === null) return;
      if (this.resumed) {
        // paused while this worker waited: hand the mail back, first in line
        this.queue.pushFront(id);
        continue;
      }
      const job = this.deliver(id).catch((error) =>
        this.log.error({ err: error, mailId: id }, "delivery failed unexpectedly"),
      );
      this.inFlight.add(job);
      await job;
      await this.queue
        .done?.(id)
        .catch((error) => this.log.warn({ err: error, mailId: id }, "could not settle the work"));
      this.inFlight.delete(job);
    }
  }

  /** Closes the queue and waits up to graceMs for in-flight deliveries; true if all ended. */
  async stop(graceMs: number): Promise<boolean> {
    this.queue.close();
    this.unpause();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const finished = Promise.all(this.loops).then(() => true as const);
    const result = await Promise.race([finished, expired]);
    clearTimeout(timer);
    return result;
  }
}
