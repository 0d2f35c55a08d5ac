// Copies other hosts' records from this host's journal queue into its own spool, so its
// index knows every mail of the cluster (status, lists, limits, quotas, idempotency keys).
// Messages are taken in order and written in one commit per batch, then acknowledged: a
// crash before the ack gets them again, and what is at or below a host's mark is dropped.
// A record about a mail this host does not know yet (the accepted record, published by
// another host, is still on its way) holds that host's later records back, unacked, until
// it arrives; after holdMs they are written anyway, with an error line.
import { createHash } from "node:crypto";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "../log.js";
import { decodeRecord, type NewRecord, type SpoolRecord } from "../spool/record.js";
import type { Spool } from "../spool/spool.js";
import type { Broker } from "./broker.js";
import { blobsOf, journalHeaders } from "./journal-message.js";
import type { JournalMarks } from "./journal-marks.js";

const prefetch = 512;
const holdMs = 60_000;

interface Held {
  message: ConsumeMessage;
  since: number;
}

export class JournalConsumer {
  private channel: Channel | null = null;
  private pending: ConsumeMessage[] = [];
  private readonly held = new Map<string, Held[]>();
  private draining = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly spool: Spool,
    private readonly broker: Broker,
    private readonly marks: JournalMarks,
    private readonly host: string,
    private readonly log: Logger,
  ) {
    broker.onConnect((model) => this.attach(model));
    broker.onDisconnect(() => {
      this.channel = null;
      this.pending = [];
      this.held.clear();
    });
  }

  private async attach(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on("error", (error: Error) => this.log.warn({ err: error }, "journal consumer channel error"));
    await channel.prefetch(prefetch);
    this.channel = channel;
    await channel.consume(this.broker.names.journalQueue, (message) => {
      if (!message || channel !== this.channel) return;
      this.pending.push(message);
      this.drain();
    });
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    void this.copyPending()
      .catch((error) => this.log.error({ err: error }, "could not copy journal records; retrying"))
      .finally(() => {
        this.draining = false;
        if (this.pending.length) this.drain();
      });
  }

  private async copyPending(): Promise<void> {
    const channel = this.channel;
    const batch = this.pending.splice(0);
    if (!channel || (batch.length === 0 && this.held.size === 0)) return;
    const records: NewRecord[] = [];
    const done: ConsumeMessage[] = [];
    const known = new Set<string>();
    const now = Date.now();
    for (const message of batch) this.take(message, now, records, done, known);
    for (const [host, queue] of this.held) {
      const stillHeld: Held[] = [];
      for (const held of queue) {
        if (stillHeld.length) stillHeld.push(held);
        else if (!this.take(held.message, now, records, done, known, held.since)) stillHeld.push(held);
      }
      if (stillHeld.length) this.held.set(host, stillHeld);
      else this.held.delete(host);
    }
    try {
      for (const record of records) if (record.type === "accepted") await this.storeBlobs(record, done);
      if (records.length) await this.spool.appendAll(records);
    } catch (error) {
      for (const message of done) if (channel === this.channel) channel.nack(message, false, true);
      throw error;
    }
    for (const message of done) if (channel === this.channel) channel.ack(message);
    if (this.held.size) this.retryLater();
  }

  /** Queues the message's record for writing (or drops it as already had); false when it must wait. */
  private take(
    message: ConsumeMessage,
    now: number,
    records: NewRecord[],
    done: ConsumeMessage[],
    known: Set<string>,
    since = now,
  ): boolean {
    const origin = journalHeaders(message.properties.headers);
    const line = message.content.subarray(0, message.content.indexOf(0x0a) + 1);
    const decoded = line.length ? decodeRecord(line.toString("utf8", 0, line.length - 1)) : null;
    if (!origin || !decoded?.ok) {
      this.log.error({ headers: message.properties.headers }, "dropping a journal message that is not a spool line");
      done.push(message);
      return true;
    }
    if (
      origin.host === this.host ||
      this.marks.has(origin.host, origin.pos) ||
      records.some((r) => sameOrigin(r, origin))
    ) {
      done.push(message);
      return true;
    }
    const queue = this.held.get(origin.host);
    const record = decoded.record;
    const mailKnown =
      record.type === "accepted" || known.has(record.id) || this.spool.index.get(record.id) !== undefined;
    if ((queue?.length && !queue.some((h) => h.message === message)) || (!mailKnown && now - since < holdMs)) {
      if (!queue?.some((h) => h.message === message))
        this.held.set(origin.host, [...(queue ?? []), { message, since }]);
      return false;
    }
    if (!mailKnown)
      this.log.error({ mailId: record.id, host: origin.host }, "copied a record of a mail this host never received");
    if (record.type === "accepted") known.add(record.id);
    const { v: _v, ...rest } = record as SpoolRecord;
    records.push({ ...rest, via: { host: origin.host, pos: origin.pos } } as NewRecord);
    done.push(message);
    return true;
  }

  private async storeBlobs(record: NewRecord, done: ConsumeMessage[]): Promise<void> {
    const message = done.find((m) => {
      const origin = journalHeaders(m.properties.headers);
      return origin !== null && sameOrigin(record, origin);
    })!;
    let at = message.content.indexOf(0x0a) + 1;
    for (const blob of blobsOf(record as SpoolRecord)) {
      const bytes = message.content.subarray(at, at + blob.size);
      at += blob.size;
      if (createHash("sha256").update(bytes).digest("hex") !== blob.sha256)
        throw new Error(`journal message for ${record.id} carries a blob that does not match ${blob.sha256}`);
      const writer = await this.spool.blobs.create();
      await writer.write(bytes);
      await writer.commit();
    }
    await this.spool.blobs.syncDir();
  }

  private retryLater(): void {
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.drain();
    }, 100);
    this.retryTimer.unref();
  }

  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.channel = null;
  }
}

function sameOrigin(record: NewRecord, origin: { host: string; pos: number }): boolean {
  return record.via?.host === origin.host && record.via.pos === origin.pos;
}
