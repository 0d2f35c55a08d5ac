// Publishes this host's own spool records to the journal, in spool order, from disk: the
// spool is the outbox. A position past the last confirmed record is kept in
// data/cluster.json (written at most every 250 ms), so a restart or a lost connection
// publishes again from there — receivers drop what they already have by position. Records
// copied from other hosts (`via`) and webhook records (their POSTs are this host's) are not
// published. `confirmedThrough(pos)` resolves once every own record up to pos is confirmed.
// A record that cannot go (larger than the broker takes, a blob gone from disk) is logged and
// left out, with every later record about that mail, rather than holding every later record
// back: the other hosts never learn that mail; this host still delivers it and answers for it.
import type { ChannelModel, ConfirmChannel } from "amqplib";
import type { Logger } from "../log.js";
import type { SpoolRecord } from "../spool/record.js";
import type { Location } from "../spool/segment.js";
import type { Spool } from "../spool/spool.js";
import type { Broker } from "./broker.js";
import type { ClusterState } from "./cluster-state.js";
import { blobsOf } from "./journal-message.js";
import { readLines, type StoredLine } from "./own-records.js";
import { positionAfter, splitPosition } from "./positions.js";

interface Waiter {
  pos: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const saveEveryMs = 250;
/** Published records awaiting their confirm at most; past it publishing waits for the broker. */
const maxInFlight = 10_000;

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
  /** Bumped when publishing starts over from the confirmed position (a new channel, a nack). */
  private epoch = 0;
  private saveTimer: NodeJS.Timeout | null = null;
  /** Mails whose accepted record could not go: their later records stay out too (kept in cluster.json). */
  private readonly leftOut: Set<string>;
  /**
   * Position just past this host's last own record (what a work message tells consumers to wait
   * for): learnt from what is appended and what is published, never the spool's end, which may
   * lie past copied records no other host's marks reach.
   */
  lastOwn = 0;

  constructor(
    private readonly spool: Spool,
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
    /** The largest message the broker takes: broker.maxMessageBytes, lowered to what the broker says when it refuses one. */
    public maxMessageBytes: number,
  ) {
    this.readAt = state.published;
    this.confirmedAt = state.published;
    this.leftOut = new Set(state.leftOut);
    const position = spool.index.position;
    this.durableEnd = position ? position.segment * 2 ** 32 + position.offset : 0;
    spool.onAppend((record, location) => this.appended(record, location));
    broker.onConnect((model) => this.attach(model));
    broker.onDisconnect(() => this.detach());
  }

  /** The spool's durable end when this host started, then as it grows. */
  get end(): number {
    return this.durableEnd;
  }

  /** The first segment holding own records the broker has not confirmed (the compactor keeps it and later ones live). */
  get unconfirmedSegment(): number {
    return splitPosition(this.confirmedAt).segment;
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
    channel.on("error", (error: Error) => {
      this.log.warn({ err: error }, "journal channel error");
      const brokerMax = /larger than configured max size (\d+)/.exec(error.message)?.[1];
      if (brokerMax) this.maxMessageBytes = Math.min(this.maxMessageBytes, Number(brokerMax));
    });
    channel.on("close", () => this.broker.channelLost(model, "journal publisher"));
    this.channel = channel;
    this.startOver();
    this.pump();
  }

  private detach(): void {
    this.channel = null;
    this.startOver();
  }

  /** What is unconfirmed is published again (receivers drop what they have). */
  private startOver(): void {
    this.epoch += 1;
    this.inFlight.length = 0;
    this.readAt = this.confirmedAt;
  }

  private pump(): void {
    if (this.pumping || !this.channel) return;
    this.pumping = true;
    let failed = false;
    void this.publishPending()
      .catch((error) => {
        failed = true;
        this.log.error({ err: error }, "journal publishing failed; starting over from the confirmed position");
        this.startOver();
      })
      .finally(() => {
        this.pumping = false;
        if (!this.channel || this.readAt >= this.durableEnd) return;
        // after a failure, or with nothing readable yet, try again shortly rather than spin
        if (failed) setTimeout(() => this.pump(), 1000).unref();
        else this.pump();
      });
  }

  private async publishPending(): Promise<void> {
    const epoch = this.epoch;
    while (this.channel && this.epoch === epoch && this.readAt < this.durableEnd) {
      const { lines, reached } = readLines(this.spool.paths, this.readAt, this.durableEnd);
      for (const line of lines) {
        if (!this.channel || this.epoch !== epoch) return;
        if (published(line.record)) await this.publish(this.channel, line, epoch);
        if (this.epoch !== epoch) return;
        this.readAt = line.next;
      }
      if (reached > this.readAt) this.readAt = reached;
      else if (lines.length === 0) throw new Error(`no spool line readable at position ${this.readAt}`);
      // nothing of ours unconfirmed: what was read (copied records, a segment's end) is settled
      if (this.inFlight.length === 0) this.advance(this.readAt);
    }
  }

  /** The line and its blobs, or null (logged) when they cannot go. */
  private async messageOf(line: StoredLine): Promise<Buffer | null> {
    if (this.leftOut.has(line.record.id)) return null;
    const blobs = blobsOf(line.record);
    const size = blobs.reduce((sum, b) => sum + b.size, line.bytes.length);
    const skip = (why: string, error?: unknown) => {
      this.leftOut.add(line.record.id);
      void this.state.addLeftOut(line.record.id).catch((failure) => this.log.warn({ err: failure }, "cluster.json"));
      this.log.error(
        { mailId: line.record.id, type: line.record.type, bytes: size, err: error },
        `a record left out of the journal: ${why}; the other hosts do not learn of this mail, this host delivers it`,
      );
      return null;
    };
    if (size > this.maxMessageBytes)
      return skip(`larger than the broker takes (${this.maxMessageBytes} bytes, broker.maxMessageBytes)`);
    if (!blobs.length) return line.bytes;
    try {
      return Buffer.concat([line.bytes, ...(await Promise.all(blobs.map((b) => this.spool.blobs.read(b.sha256))))]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return skip("a blob it names is missing", error);
    }
  }

  private async publish(channel: ConfirmChannel, line: StoredLine, epoch: number): Promise<void> {
    const body = await this.messageOf(line);
    if (this.inFlight.length >= maxInFlight) await channel.waitForConfirms();
    if (channel !== this.channel || epoch !== this.epoch) return;
    const slot = { next: line.next, confirmed: body === null };
    if (body === null) {
      this.inFlight.push(slot);
      this.settleConfirmed();
      return;
    }
    this.lastOwn = Math.max(this.lastOwn, line.next);
    const fits = channel.publish(
      this.broker.names.journal,
      "",
      body,
      {
        persistent: true,
        headers: { "x-host": this.state.host, "x-pos": line.next },
      },
      (error) => {
        if (channel !== this.channel || epoch !== this.epoch) return;
        if (error) {
          // the broker refused it (nack): everything unconfirmed goes again
          this.log.warn({ err: error }, "the broker refused a journal record; publishing again");
          this.startOver();
          this.pump();
          return;
        }
        slot.confirmed = true;
        this.settleConfirmed();
      },
    );
    this.inFlight.push(slot);
    if (!fits)
      await new Promise<void>((resolve) => {
        const done = () => {
          channel.off("drain", done);
          channel.off("close", done);
          resolve();
        };
        channel.on("drain", done);
        channel.on("close", done);
      });
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
