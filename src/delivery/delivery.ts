// The delivery service: the queue, the worker pool and a transport wired together.
// Start-up requeues every undelivered mail from the index; a mail whose records cannot
// be appended (spool I/O error) is put back after a pause, never dropped.
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import type { RetryPolicy } from "./backoff.js";
import { DeliveryQueue } from "./queue.js";
import { runAttempt } from "./run-attempt.js";
import type { Transport } from "./transports/transport.js";
import { WorkerPool } from "./worker-pool.js";

export interface DeliveryOptions {
  spool: Spool;
  transport: Transport;
  from: string;
  workers: number;
  retry: RetryPolicy;
  log: Logger;
  now?: () => number;
}

const spoolErrorPauseMs = 5_000;

export class Delivery {
  readonly queue: DeliveryQueue;
  private readonly pool: WorkerPool;
  private readonly now: () => number;

  constructor(private readonly options: DeliveryOptions) {
    this.now = options.now ?? Date.now;
    this.queue = new DeliveryQueue(this.now);
    this.pool = new WorkerPool(options.workers, this.queue, (id) => this.deliver(id), options.log);
  }

  start(): void {
    const undelivered = this.options.spool.index.undelivered();
    for (const entry of undelivered) {
      if (entry.state === "deferred" && entry.nextAttemptAt) this.queue.schedule(entry.id, Date.parse(entry.nextAttemptAt));
      else this.enqueue(entry.id);
    }
    this.options.log.info({ requeued: undelivered.length, workers: this.options.workers, transport: this.options.transport.name }, "delivery started");
    this.pool.start();
  }

  enqueue(id: MailId): void {
    this.queue.push(id);
  }

  get inFlight(): number {
    return this.pool.busy;
  }

  private async deliver(id: MailId): Promise<void> {
    const { spool, log } = this.options;
    try {
      const nextAt = await runAttempt(id, { ...this.options, now: this.now });
      if (nextAt !== null) this.queue.schedule(id, nextAt);
    } catch (error) {
      const entry = spool.index.get(id);
      if (entry?.state === "sending") entry.state = "queued";
      log.error({ err: error, mailId: id }, "could not record delivery; retrying later");
      this.queue.schedule(id, this.now() + spoolErrorPauseMs);
    }
  }

  /** Stops taking work; in-flight attempts get graceMs, the rest resume at next start. */
  async stop(graceMs: number): Promise<void> {
    const finished = await this.pool.stop(graceMs);
    if (!finished) this.options.log.warn({ inFlight: this.pool.busy }, "grace period over; unfinished deliveries resume at next start");
    await this.options.transport.close();
  }
}
