// Event webhooks: each mail outcome a subscription lists becomes an event recorded in the
// spool (`webhook` created, in the same write as the outcome's own record), then POSTed,
// signed (webhook-signature.ts), at most `concurrency` at a time with a timeout, retried
// with backoff until a 2xx (`delivered`) or until it is older than its maxAgeHours
// (`given-up`). The index keeps the events not settled, so a restart resumes them; a POST
// cut short by a crash is sent again (the receiver tells it by its webhook-id). A 2xx from
// a URL sends its waiting events at once, so a receiver that was down gets its backlog as
// soon as it answers. Nothing here blocks delivery beyond that shared write: the POSTs
// run in the background.
import { newUlid } from "../ids.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { MailEntry } from "../spool/mail-index.js";
import type { NewRecord, WebhookRecord } from "../spool/record.js";
import type { AppendOptions, Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { backoffMs, type RetryPolicy } from "./backoff.js";
import {
  eventData,
  eventPayload,
  legacyPayload,
  type WebhookEventType,
  type WebhookSubscription,
} from "./webhook-events.js";
import { webhookHeaders } from "./webhook-signature.js";

export interface WebhooksOptions {
  spool: Spool;
  subscriptions: WebhookSubscription[];
  log: Logger;
  metrics?: Pick<Metrics, "webhookTried" | "webhookGaveUp" | "webhooksPending">;
  now?: () => number;
  random?: () => number;
  concurrency?: number;
  timeoutMs?: number;
}

/** Tries of one event: 2 s, 4 s, 8 s … up to 10 minutes apart (jittered), until maxAgeHours. */
const retry: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseSeconds: 2, maxSeconds: 600 };

interface Pending {
  record: WebhookRecord;
  tries: number;
  /** Set while it waits for its next try. */
  timer?: NodeJS.Timeout;
}

export class Webhooks {
  private readonly pending = new Map<string, Pending>();
  private readonly ready: string[] = [];
  /** URL → its events waiting for their next try (wake() sends them at once). */
  private readonly waiting = new Map<string, Set<Pending>>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: WebhooksOptions) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Resumes the events a previous run recorded and did not settle. */
  start(): void {
    const resumed = this.options.spool.index.pendingWebhooks();
    for (const record of resumed) this.track(record);
    if (resumed.length) this.options.log.info({ events: resumed.length }, "resuming event webhooks");
  }

  /** SIGHUP: events already recorded go to the URLs still configured, with their current secrets. */
  reconfigure(subscriptions: WebhookSubscription[]): void {
    this.options.subscriptions = subscriptions;
  }

  /**
   * Appends `records`, the last of which gives a mail an outcome (an attempt's end, a
   * cancel), with an event for each subscription to that outcome, in one write: a kill keeps
   * all or none. Then the events are sent. `after`: the mail as the records leave it.
   */
  async appendWithEvents(records: NewRecord[], after: () => MailEntry, options?: AppendOptions): Promise<void> {
    const { spool } = this.options;
    const events = await this.eventRecords(records.at(-1)!.id, after);
    const appended = await spool.appendAll([...records, ...events], options);
    for (const event of appended.slice(records.length)) this.track(event as WebhookRecord);
  }

  /** The `created` records of a mail's outcome; none when nobody subscribes to it (or its mail cannot be read). */
  private async eventRecords(id: MailId, after: () => MailEntry): Promise<NewRecord[]> {
    const { spool, log } = this.options;
    const subscriptions = this.options.subscriptions;
    if (subscriptions.length === 0) return [];
    const entry = after();
    const type = entry.state as WebhookEventType;
    const subscribed = subscriptions.filter((s) => s.events.includes(type));
    if (subscribed.length === 0) return [];
    try {
      const data = eventData(entry);
      const at = new Date(this.now());
      const { mail } = await spool.readAccepted(id);
      return subscribed.map((subscription): NewRecord => {
        const event = `evt_${newUlid(at.getTime())}`;
        const payload = subscription.legacy ? legacyPayload(data) : eventPayload(event, type, data, mail, at);
        return { type: "webhook", id, event, status: "created", url: subscription.url, payload };
      });
    } catch (error) {
      log.error({ err: error, mailId: id, type }, "could not make the event webhooks of an outcome; they are not sent");
      return [];
    }
  }

  private track(record: WebhookRecord): void {
    this.pending.set(record.event, { record, tries: 0 });
    this.options.metrics?.webhooksPending(this.pending.size);
    this.ready.push(record.event);
    this.pump();
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 4;
    while (!this.stopped && this.running.size < concurrency && this.ready.length > 0) {
      const pending = this.pending.get(this.ready.shift()!);
      if (!pending) continue;
      const run = this.post(pending).finally(() => {
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  private async post(pending: Pending): Promise<void> {
    const { record } = pending;
    const subscription = this.options.subscriptions.find((s) => s.url === record.url);
    if (!subscription) return this.settle(pending, "given-up", "its URL is no longer configured");
    const body = JSON.stringify(record.payload);
    const sentAt = this.now();
    pending.tries += 1;
    let error: string;
    try {
      const response = await fetch(record.url!, {
        method: "POST",
        headers: webhookHeaders(record.event, Math.floor(sentAt / 1000), body, subscription.key),
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        this.options.metrics?.webhookTried(true);
        await this.settle(pending, "delivered");
        this.wake(record.url!);
        return;
      }
      error = `HTTP ${response.status}`;
    } catch (failure) {
      error = (failure as Error).message;
    }
    this.options.metrics?.webhookTried(false);
    const age = this.now() - Date.parse(record.ts);
    if (age >= subscription.maxAgeHours * 3_600_000) return this.settle(pending, "given-up", error);
    const delay = backoffMs(pending.tries, retry, this.options.random);
    if (pending.tries === 1)
      this.options.log.warn(
        { mailId: record.id, event: record.event, url: record.url, err: error, retryInMs: delay },
        "event webhook failed; retrying",
      );
    if (this.stopped) return;
    const waiting = this.waiting.get(record.url!) ?? new Set();
    this.waiting.set(record.url!, waiting.add(pending));
    pending.timer = setTimeout(() => {
      waiting.delete(pending);
      pending.timer = undefined;
      this.ready.push(record.event);
      this.pump();
    }, delay);
    pending.timer.unref();
  }

  /** A receiver answered: its other waiting events go now rather than at their backoff. */
  private wake(url: string): void {
    const waiting = this.waiting.get(url);
    if (!waiting?.size) return;
    for (const pending of waiting) {
      clearTimeout(pending.timer);
      pending.timer = undefined;
      this.ready.push(pending.record.event);
    }
    waiting.clear();
    this.pump();
  }

  private async settle(pending: Pending, status: "delivered" | "given-up", error?: string): Promise<void> {
    const { record } = pending;
    this.pending.delete(record.event);
    this.options.metrics?.webhooksPending(this.pending.size);
    if (status === "given-up") {
      this.options.metrics?.webhookGaveUp();
      this.options.log.error(
        { mailId: record.id, event: record.event, url: record.url, err: error, tries: pending.tries },
        "event webhook given up",
      );
    }
    try {
      await this.options.spool.append({
        type: "webhook",
        id: record.id,
        event: record.event,
        status,
        ...(error !== undefined ? { error } : {}),
      });
    } catch (failure) {
      // still pending in the index: the next start sends it again
      this.options.log.error({ err: failure, event: record.event }, "could not record an event webhook's end");
    }
  }

  /** Stops trying; POSTs under way get `graceMs` to end (the rest are resumed by the next start). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const pending of this.pending.values()) if (pending.timer) clearTimeout(pending.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
  }
}
