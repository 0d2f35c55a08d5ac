// The delivery service: queue, worker pool and transport wired together. Start-up
// requeues every undelivered mail from the index (saying which were mid-send, and so
// may be duplicated), keeps the failed-spool view current, and hands each outcome to the
// event webhooks (webhooks.ts). A mail whose records cannot be appended is put back
// later, never dropped.
import type { DkimKey } from "../config-dkim.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import { writeFailedView } from "../spool/failed-view.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import type { RetryPolicy } from "./backoff.js";
import { cancelMail, replayMail, type ReplayOptions } from "./mail-actions.js";
import { MessageCache } from "./message-cache.js";
import { DeliveryQueue } from "./queue.js";
import type { WorkQueue } from "./work-queue.js";
import { runAttempt, type AttemptDeps, type BatchPolicy } from "./run-attempt.js";
import { ScheduledRelease } from "./scheduled-release.js";
import type { Transport, UpstreamBucket } from "./transports/transport.js";
import type { WebhookSubscription } from "./webhook-events.js";
import { Webhooks } from "./webhooks.js";
import { WorkerPool } from "./worker-pool.js";

export interface DeliveryOptions {
  spool: Spool;
  transport: Transport;
  from: string;
  /** Signing keys by From domain (SIGHUP may swap them). */
  dkim: readonly DkimKey[];
  workers: number;
  retry: RetryPolicy;
  batch: BatchPolicy;
  /** Event webhooks, failed.notify.webhook among them (webhook-events.ts). */
  webhooks: WebhookSubscription[];
  log: Logger;
  metrics?: Metrics;
  /**
   * Cluster mode: the broker's work queue, which holds every undelivered mail and every
   * scheduled time, so start-up requeues nothing and scheduled mails wait there.
   */
  sharedQueue?: WorkQueue;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const spoolErrorPauseMs = 5_000;
const failedViewDelayMs = 100;
const messageCacheBytes = 64 * 1024 * 1024;

export class Delivery {
  readonly queue: WorkQueue;
  private readonly scheduled: ScheduledRelease;
  private readonly pool: WorkerPool;
  private readonly attemptDeps: AttemptDeps;
  private readonly webhooks: Webhooks;
  private failedViewTimer: NodeJS.Timeout | null = null;
  private failedViewWrite: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DeliveryOptions) {
    const now = options.now ?? Date.now;
    this.queue = options.sharedQueue ?? new DeliveryQueue(now);
    this.scheduled = new ScheduledRelease(options.spool.index, (id) => this.queue.push(id), now);
    this.pool = new WorkerPool(options.workers, this.queue, (id) => this.deliver(id), options.log);
    this.webhooks = new Webhooks({
      spool: options.spool,
      subscriptions: options.webhooks,
      log: options.log.child({ component: "webhooks" }),
      metrics: options.metrics,
      now,
      random: options.random,
    });
    this.attemptDeps = {
      ...options,
      now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      cache: new MessageCache(messageCacheBytes),
      events: this.webhooks,
    };
  }

  async start(): Promise<void> {
    const { spool, log } = this.options;
    const undelivered = this.options.sharedQueue ? [] : spool.index.undelivered();
    for (const entry of undelivered) {
      if (entry.openAttempt) {
        log.warn(
          { mailId: entry.id },
          "mail was being sent when the relay stopped; recipients without a recorded outcome are retried and may receive it twice",
        );
      }
      if (entry.state === "deferred" && entry.nextAttemptAt)
        this.queue.schedule(entry.id, Date.parse(entry.nextAttemptAt));
      else this.enqueue(entry.id);
    }
    if (!this.options.sharedQueue) this.scheduled.start();
    await this.writeFailedView();
    this.webhooks.start();
    log.info(
      { requeued: undelivered.length, workers: this.options.workers, transport: this.options.transport.name },
      "delivery started",
    );
    this.pool.start();
  }

  enqueue(id: MailId): void {
    this.queue.push(id);
  }

  /** A mail just accepted: into the queue, or, when scheduled, left in the index for its time. */
  accepted(id: MailId): void {
    const entry = this.options.spool.index.get(id);
    if (entry?.state !== "scheduled" || !entry.nextAttemptAt) this.enqueue(id);
    else if (this.options.sharedQueue) this.queue.schedule(id, Date.parse(entry.nextAttemptAt));
    else this.scheduled.scheduled(entry.nextAttemptAt);
  }

  get inFlight(): number {
    return this.pool.busy;
  }

  get paused(): boolean {
    return this.pool.paused;
  }

  /** The current transport's token buckets (none for the outbox). */
  get buckets(): UpstreamBucket[] {
    return this.options.transport.buckets?.() ?? [];
  }

  /** Cluster mode: this host's share of every upstream's limits. */
  shareLimits(fraction: number): void {
    this.attemptDeps.transport.shareLimits?.(fraction);
  }

  /** Delivery only: intake keeps accepting while paused (used while rotating credentials). */
  setPaused(paused: boolean): void {
    if (paused) this.pool.pause();
    else this.pool.unpause();
    if (paused) this.queue.pause?.();
    else this.queue.resume?.();
    this.options.log.info({ paused }, paused ? "delivery paused" : "delivery resumed");
  }

  async replay(id: MailId, options: ReplayOptions): Promise<string[]> {
    const recipients = await replayMail(this.options.spool, (mailId) => this.enqueue(mailId), id, options);
    this.refreshFailedView();
    return recipients;
  }

  /** Resolves true when the mail was cancelled now, false when it already was. */
  async cancel(id: MailId, reason: string, idempotencyKey?: string, requestHash?: string): Promise<boolean> {
    const cancelled = await cancelMail(this.options.spool, id, reason, idempotencyKey, requestHash, this.webhooks);
    this.attemptDeps.cache.delete(id);
    this.refreshFailedView();
    return cancelled;
  }

  private async deliver(id: MailId): Promise<void> {
    const { spool, log } = this.options;
    try {
      const end = await runAttempt(id, this.attemptDeps);
      if (end.kind === "retry" || end.kind === "limited") this.queue.schedule(id, end.at);
      if (end.kind === "final" && end.state !== "sent") this.refreshFailedView();
    } catch (error) {
      spool.index.stopSending(id);
      log.error({ err: error, mailId: id }, "could not record delivery; retrying later");
      this.queue.schedule(id, this.attemptDeps.now() + spoolErrorPauseMs);
    }
  }

  /** Rewrites failed/failed.jsonl shortly (coalescing bursts of changes). */
  refreshFailedView(): void {
    this.failedViewTimer ??= setTimeout(() => {
      this.failedViewTimer = null;
      void this.writeFailedView();
    }, failedViewDelayMs);
  }

  private writeFailedView(): Promise<unknown> {
    const { spool, log } = this.options;
    this.failedViewWrite = this.failedViewWrite
      .then(() => writeFailedView(spool.index, spool.paths.failed))
      .catch((error) => log.error({ err: error }, "could not write failed/failed.jsonl"));
    return this.failedViewWrite;
  }

  /**
   * SIGHUP: new upstreams and policies for the next attempts. Attempts in flight finish on
   * the old transport, which is closed once they had time to (never mid-transaction). New
   * DKIM keys drop the composed messages: the next attempts sign with them.
   */
  reconfigure(
    transport: Transport | undefined,
    policies: Pick<DeliveryOptions, "from" | "dkim" | "retry" | "batch" | "webhooks">,
    closeOldAfterMs: number,
  ): void {
    if (JSON.stringify(policies.dkim) !== JSON.stringify(this.options.dkim)) this.attemptDeps.cache.clear();
    Object.assign(this.options, policies);
    Object.assign(this.attemptDeps, policies);
    this.webhooks.reconfigure(policies.webhooks);
    if (!transport) return;
    const old = this.attemptDeps.transport;
    this.options.transport = transport;
    this.attemptDeps.transport = transport;
    setTimeout(() => void old.close(), closeOldAfterMs).unref();
  }

  /** Stops taking work; in-flight attempts get graceMs, the rest resume at next start. */
  async stop(graceMs: number): Promise<void> {
    const started = Date.now();
    this.scheduled.stop();
    const finished = await this.pool.stop(graceMs);
    if (!finished)
      this.options.log.warn(
        { inFlight: this.pool.busy },
        "grace period over; unfinished deliveries resume at next start",
      );
    if (this.failedViewTimer) {
      clearTimeout(this.failedViewTimer);
      this.failedViewTimer = null;
      await this.writeFailedView();
    }
    await this.failedViewWrite;
    await this.webhooks.stop(Math.max(0, graceMs - (Date.now() - started)));
    await this.attemptDeps.transport.close();
  }
}
