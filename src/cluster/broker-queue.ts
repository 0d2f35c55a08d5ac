// The delivery queue in cluster mode: the broker's work queue, consumed with manual
// acknowledgement and a prefetch of the worker count. A message names a mail and the
// position of its origin's record this host must have copied first (the accepted record, a
// replay, the attempt that deferred it); it waits until the journal has brought that. A
// mail due later (a retry, a send_at) goes to the delay queue of the longest level not past
// its time, and comes back to the work queue when that expires; arriving early, it goes
// round again for the rest. A message is acknowledged only when the worker is done: its
// outcome recorded, its next time confirmed in a delay queue. A host that dies leaves its
// unacknowledged messages to the others.
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { Logger } from "../log.js";
import type { MailIndex } from "../spool/mail-index.js";
import type { WorkQueue } from "../delivery/work-queue.js";
import type { MailId } from "../types.js";
import type { Broker } from "./broker.js";
import type { JournalMarks } from "./journal-marks.js";
import { delayLevelFor } from "./topology.js";

interface Work {
  /** The channel it came on: only that one can acknowledge it. */
  channel: Channel;
  id: MailId;
  host: string;
  after: number;
  message: ConsumeMessage;
  since: number;
}

/** How long a message waits for its origin's record before it is tried anyway. */
const waitForRecordMs = 60_000;
/**
 * A message given again (its consumer's channel went: a broker restart, a host killed) waits
 * this long first, so the outcome its first taker may have recorded can arrive by the journal
 * (after a broker restart every host publishes what it could not) and the mail is not sent twice.
 */
const redeliveredWaitMs = 3000;
/** A mail due within this is delivered now rather than sent round the delay queues again. */
const earlyEnoughMs = 1000;

export class BrokerQueue implements WorkQueue {
  private consumer: Channel | null = null;
  private publisher: ConfirmChannel | null = null;
  private waiting: Work[] = [];
  private ready: Work[] = [];
  private readonly takers: ((id: MailId | null) => void)[] = [];
  private readonly taken = new Map<MailId, Work[]>();
  /** Work being published, by mail: resolves false when it could not be. */
  private readonly publishing = new Map<MailId, Promise<boolean>>();
  /** Work that could not be published (the broker was gone): published again on reconnect. */
  private readonly unpublished = new Map<MailId, number>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private consumerTag: string | null = null;
  /** A consume() is waiting for the broker's answer. */
  private starting = false;
  private paused = false;

  constructor(
    private readonly deps: {
      broker: Broker;
      index: Pick<MailIndex, "get">;
      marks: JournalMarks;
      host: string;
      /** Position just past this host's last own record. */
      lastOwn: () => number;
      prefetch: number;
      log: Logger;
      now?: () => number;
    },
  ) {
    deps.broker.onConnect((model) => this.attach(model));
    deps.broker.onDisconnect(() => this.detach());
    deps.marks.onAdvance(() => this.recheck());
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async attach(model: ChannelModel): Promise<void> {
    const publisher = await model.createConfirmChannel();
    publisher.on("error", (error: Error) => this.deps.log.warn({ err: error }, "work publishing channel error"));
    publisher.on("close", () => this.deps.broker.channelLost(model, "work publisher"));
    this.publisher = publisher;
    for (const [id, at] of this.unpublished) {
      this.unpublished.delete(id);
      this.track(id, at);
    }
    if (this.closed) return;
    const consumer = await model.createChannel();
    consumer.on("error", (error: Error) => this.deps.log.warn({ err: error }, "work channel error"));
    consumer.on("close", () => this.deps.broker.channelLost(model, "work consumer"));
    await consumer.prefetch(this.deps.prefetch);
    this.consumer = consumer;
    if (!this.paused) await this.consume(consumer);
  }

  private async consume(consumer: Channel): Promise<void> {
    this.starting = true;
    try {
      const { consumerTag } = await consumer.consume(this.deps.broker.names.work, (message) => {
        if (message && consumer === this.consumer) this.arrived(consumer, message);
      });
      this.consumerTag = consumerTag;
    } finally {
      this.starting = false;
    }
    // paused or closed while the broker was answering
    if (this.paused || this.closed) this.stopConsuming();
  }

  /**
   * Delivery paused: this host stops consuming and hands back what it holds unstarted, so the
   * others take it and this host no longer counts in the shares of the limits.
   */
  pause(): void {
    this.paused = true;
    this.stopConsuming();
  }

  resume(): void {
    this.paused = false;
    if (this.consumer && !this.consumerTag && !this.starting && !this.closed)
      void this.consume(this.consumer).catch((error) =>
        this.deps.log.warn({ err: error }, "could not resume consuming"),
      );
  }

  private stopConsuming(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    if (this.consumerTag) void consumer.cancel(this.consumerTag).catch(() => undefined);
    this.consumerTag = null;
    for (const work of [...this.waiting.splice(0), ...this.ready.splice(0)]) consumer.nack(work.message, false, true);
  }

  private detach(): void {
    this.consumer = null;
    this.consumerTag = null;
    this.publisher = null;
    // the broker gives unacknowledged messages to other consumers: none of these is ours now.
    // What workers hold stays in `taken` until done(): their next time is left to the message
    // given again (a second chain of work for the same mail would send it twice).
    this.waiting = [];
    this.ready = [];
  }

  private arrived(channel: Channel, message: ConsumeMessage): void {
    // on the wire when this host stopped consuming: back to the others at once
    if (this.paused || this.closed) {
      channel.nack(message, false, true);
      return;
    }
    const headers = message.properties.headers ?? {};
    const id = headers["x-id"];
    if (typeof id !== "string") {
      this.deps.log.error({ headers }, "dropping a work message without a mail id");
      channel.ack(message);
      return;
    }
    const host = typeof headers["x-host"] === "string" ? headers["x-host"] : this.deps.host;
    const after = typeof headers["x-after"] === "number" ? headers["x-after"] : 0;
    this.waiting.push({ channel, id, host, after, message, since: this.now() });
    this.recheck();
  }

  /** Moves what can go now from waiting to ready (or round the delay queues). */
  private recheck(): void {
    const now = this.now();
    const still: Work[] = [];
    for (const work of this.waiting) {
      const copied = work.host === this.deps.host || this.deps.marks.has(work.host, work.after);
      const entry = copied ? this.deps.index.get(work.id) : undefined;
      const settling = work.message.fields.redelivered && now - work.since < redeliveredWaitMs;
      if (!entry || settling) {
        if (now - work.since < waitForRecordMs) still.push(work);
        // this host's copy of the journal is far behind: another host may have the mail
        else this.giveBack(work, "work for a mail this host has not copied yet; handed back to the queue");
        continue;
      }
      const due = entry.state === "deferred" || entry.state === "scheduled" ? Date.parse(entry.nextAttemptAt ?? "") : 0;
      if (due - now > earlyEnoughMs) void this.sendRound(work, due);
      // due within the second: waits here for its time rather than going round again
      else if (due > now) still.push(work);
      else this.hand(work);
    }
    this.waiting = still;
    if (still.length) {
      this.recheckTimer ??= setTimeout(() => {
        this.recheckTimer = null;
        this.recheck();
      }, 100);
      this.recheckTimer.unref();
    }
  }

  private giveBack(work: Work, why: string): void {
    this.deps.log.warn({ mailId: work.id, host: work.host }, why);
    if (work.channel === this.consumer) work.channel.nack(work.message, false, true);
  }

  private hand(work: Work): void {
    const taker = this.takers.shift();
    if (!taker) {
      this.ready.push(work);
      return;
    }
    this.markTaken(work);
    taker(work.id);
  }

  private markTaken(work: Work): void {
    this.taken.set(work.id, [...(this.taken.get(work.id) ?? []), work]);
  }

  private async sendRound(work: Work, due: number): Promise<void> {
    try {
      await this.publish(work.id, due, work.host, work.after);
      if (work.channel === this.consumer) work.channel.ack(work.message);
    } catch (error) {
      this.deps.log.warn({ err: error, mailId: work.id }, "could not send a mail round the delay queue; it comes back");
      if (work.channel === this.consumer) work.channel.nack(work.message, false, true);
    }
  }

  /** Publishes work for `id` (due at `at`, else now), confirmed by the broker. */
  publish(id: MailId, at = 0, host = this.deps.host, after = this.deps.lastOwn()): Promise<void> {
    const channel = this.publisher;
    if (!channel) return Promise.reject(new Error(this.deps.broker.reason || "broker unreachable"));
    const wait = at - this.now();
    const queue =
      wait > earlyEnoughMs ? this.deps.broker.names.delayQueue(delayLevelFor(wait)) : this.deps.broker.names.work;
    return new Promise((resolve, reject) => {
      channel.sendToQueue(
        queue,
        Buffer.alloc(0),
        { persistent: true, headers: { "x-id": id, "x-host": host, "x-after": after } },
        (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });
  }

  push(id: MailId): void {
    this.track(id, 0);
  }

  schedule(id: MailId, at: number): void {
    this.track(id, at);
  }

  /**
   * Publishes in the background; done(id) waits for it. When it fails, work for a mail a
   * worker holds is left to that message (not acknowledged, the broker gives it again);
   * other work (an accepted or replayed mail) is kept and published on reconnect.
   */
  private track(id: MailId, at: number): void {
    const settled: Promise<boolean> = this.publish(id, at)
      .then(() => true)
      .catch((error) => {
        if (!this.taken.has(id)) this.unpublished.set(id, at);
        this.deps.log.warn({ err: error, mailId: id }, "work not handed to the broker; it is when the broker is back");
        return false;
      })
      .finally(() => {
        if (this.publishing.get(id) === settled) this.publishing.delete(id);
      });
    this.publishing.set(id, settled);
  }

  pushFront(id: MailId): void {
    const work = this.shiftTaken(id);
    if (work?.channel === this.consumer) work.channel.nack(work.message, false, true);
  }

  take(): Promise<MailId | null> {
    if (this.closed) return Promise.resolve(null);
    const work = this.ready.shift();
    if (work) {
      this.markTaken(work);
      return Promise.resolve(work.id);
    }
    return new Promise((resolve) => this.takers.push(resolve));
  }

  async done(id: MailId): Promise<void> {
    const published = (await this.publishing.get(id)) ?? true;
    const work = this.shiftTaken(id);
    if (!work || work.channel !== this.consumer) return;
    if (published) work.channel.ack(work.message);
    else work.channel.nack(work.message, false, true);
  }

  private shiftTaken(id: MailId): Work | undefined {
    const list = this.taken.get(id);
    const work = list?.shift();
    if (list && list.length === 0) this.taken.delete(id);
    return work;
  }

  /** Takes no more work; what this host holds unstarted goes back to the queue for the others, what is in flight is still acknowledged by done(). */
  close(): void {
    this.closed = true;
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    for (const taker of this.takers.splice(0)) taker(null);
    this.stopConsuming();
  }
}
