// Publishes this host's own spool records to the journal, in spool order, from disk: the
// spool is the outbox. A position past the last confirmed record is kept in
// data/cluster.json (written at most every 250 ms), so a restart or a lost connection
// publishes again from there — receivers drop what they already have by position. Records
// copied from other hosts (`via`) and webhook records (their POSTs are this host's) are not
// published. `confirmedThrough(pos)` resolves once every own record up to pos is confirmed.
import type { ChannelModel, ConfirmChannel } from "amqplib";
import type { Logger } from "../log.js";
import type { SpoolRecord } from "../spool/record.js";
import type { Location } from "../spool/segment.js";
import type { Spool } from "../spool/spool.js";
import type { Broker } from "./broker.js";
import type { ClusterState } from "./cluster-state.js";
import { blobsOf } from "./journal-message.js";
import { readLines, type StoredLine } from "./own-records.js";
import { positionAfter } from "./positions.js";

interface Waiter {
  pos: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const saveEveryMs = 250;

export class JournalPublisher {
  private channel: ConfirmChannel | null = null;
  /** Next position to read; every own record before it was published on the current channel. */
  private readAt: number;
  /** Every own record before this position is confirmed. */
  private confirmedAt: number;
  /** The spool's durable end: reading never goes past it. */
  private durableEnd: number;
  /** Published, unconfirmed, in order: where reading resumes once each is confirmed. */
  private readonly inFlight: { next: number; confirmed: boolean }[] = [];
  private waiters: Waiter[] = [];
  private pumping = false;
  private saveTimer: NodeJS.Timeout | null = null;
  /** Position just past this host's last own record (what a work message tells consumers to wait for). */
  lastOwn = 0;

  constructor(
    private readonly spool: Spool,
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
  ) {
    this.readAt = state.published;
    this.confirmedAt = state.published;
    const position = spool.index.position;
    this.durableEnd = position ? position.segment * 2 ** 32 + position.offset : 0;
    this.lastOwn = this.durableEnd;
    spool.onAppend((record, location) => this.appended(record, location));
    broker.onConnect((model) => this.attach(model));
    broker.onDisconnect(() => this.detach());
  }

  /** Resolves once every own record up to `pos` is confirmed by the broker; rejects after timeoutMs. */
  confirmedThrough(pos: number, timeoutMs: number): Promise<void> {
    if (this.confirmedAt >= pos) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`the broker did not confirm within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = { pos, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  private appended(record: SpoolRecord, location: Location): void {
    const end = positionAfter(location);
    this.durableEnd = Math.max(this.durableEnd, end);
    if (published(record)) this.lastOwn = end;
    this.pump();
  }

  private async attach(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on("error", (error: Error) => this.log.warn({ err: error }, "journal channel error"));
    this.channel = channel;
    this.readAt = this.confirmedAt;
    this.inFlight.length = 0;
    this.pump();
  }

  private detach(): void {
    this.channel = null;
    this.inFlight.length = 0;
    this.readAt = this.confirmedAt;
  }

  private pump(): void {
    if (this.pumping || !this.channel) return;
    this.pumping = true;
    void this.publishPending()
      .catch((error) => this.log.error({ err: error }, "journal publishing stopped; resumes on reconnect"))
      .finally(() => {
        this.pumping = false;
        if (this.channel && this.readAt < this.durableEnd) this.pump();
      });
  }

  private async publishPending(): Promise<void> {
    while (this.channel && this.readAt < this.durableEnd) {
      const { lines, reached } = readLines(this.spool.paths, this.readAt, this.durableEnd);
      for (const line of lines) {
        if (!this.channel) return;
        if (published(line.record)) await this.publish(this.channel, line);
        this.readAt = line.next;
      }
      if (reached > this.readAt) this.readAt = reached;
      else if (lines.length === 0) break;
      // nothing of ours unconfirmed: what was read (copied records, a segment's end) is settled
      if (this.inFlight.length === 0) this.advance(this.readAt);
    }
  }

  private async publish(channel: ConfirmChannel, line: StoredLine): Promise<void> {
    const blobs = blobsOf(line.record);
    const body = blobs.length
      ? Buffer.concat([line.bytes, ...(await Promise.all(blobs.map((b) => this.spool.blobs.read(b.sha256))))])
      : line.bytes;
    const slot = { next: line.next, confirmed: false };
    this.inFlight.push(slot);
    const fits = channel.publish(
      this.broker.names.journal,
      "",
      body,
      {
        persistent: true,
        headers: { "x-host": this.state.host, "x-pos": line.next, "x-blobs": blobs.map((b) => b.sha256).join(",") },
      },
      (error) => {
        if (error || channel !== this.channel) return;
        slot.confirmed = true;
        this.settleConfirmed();
      },
    );
    if (!fits) await new Promise((resolve) => channel.once("drain", resolve));
  }

  private settleConfirmed(): void {
    while (this.inFlight.length && this.inFlight[0]!.confirmed) this.advance(this.inFlight.shift()!.next);
  }

  private advance(pos: number): void {
    if (pos <= this.confirmedAt) return;
    this.confirmedAt = pos;
    const ready = this.waiters.filter((w) => w.pos <= pos);
    if (ready.length) this.waiters = this.waiters.filter((w) => w.pos > pos);
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = null;
      void this.state.savePublished(this.confirmedAt).catch((error) => this.log.warn({ err: error }, "cluster.json"));
    }, saveEveryMs);
  }

  async stop(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("shutting down"));
    }
    await this.state.savePublished(this.confirmedAt);
  }
}

/** Records the journal carries: this host's own, webhooks excepted. */
export function published(record: SpoolRecord): boolean {
  return record.via === undefined && record.type !== "webhook";
}
