// Copies other hosts' records from this host's journal queue into its own spool, so its
// index knows every mail of the cluster (status, lists, limits, quotas, idempotency keys).
// Messages are taken in order and written in one commit per batch, then acknowledged; what
// is at or below its host's mark is dropped as already had. A batch that cannot be written
// (a full disk) is kept and tried again in the same order, never handed back to the broker,
// which would give it back behind later records. A record about a mail this host does not
// know yet (its accepted record, published by another host, is still on its way) holds that
// host's later records back until it arrives; after holdMs, or for a mail older than this
// host's place in the cluster, it is written anyway.
import { createHash } from "node:crypto";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { decodeTime } from "ulid";
import type { Logger } from "../log.js";
import { decodeRecord, type NewRecord, type SpoolRecord } from "../spool/record.js";
import type { Spool } from "../spool/spool.js";
import type { Broker } from "./broker.js";
import { blobsOf, journalHeaders, type JournalHeaders } from "./journal-message.js";
import type { JournalMarks } from "./journal-marks.js";

/** Unacknowledged journal messages at most (each may carry a mail's attachments). */
const prefetch = 64;
const holdMs = 60_000;
const retryMs = 1000;

interface Copy {
  record: NewRecord;
  blobs: Buffer[];
}

export class JournalConsumer {
  private channel: Channel | null = null;
  private pending: ConsumeMessage[] = [];
  private readonly held = new Map<string, ConsumeMessage[]>();
  private readonly heldSince = new WeakMap<ConsumeMessage, number>();
  private draining = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly joinedAt: number;
  private stopped = false;

  constructor(
    private readonly spool: Spool,
    private readonly broker: Broker,
    private readonly marks: JournalMarks,
    private readonly host: string,
    private readonly log: Logger,
    /** After each batch is written: what changed (the failed view is rewritten). */
    private readonly onCopied: (records: NewRecord[]) => void = () => undefined,
  ) {
    this.joinedAt = decodeTime(host);
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
    channel.on("close", () => this.broker.channelLost(model, "journal consumer"));
    await channel.prefetch(prefetch);
    this.channel = channel;
    await channel.consume(this.broker.names.journalQueue, (message) => {
      if (!message || channel !== this.channel) return;
      this.pending.push(message);
      this.drain();
    });
  }

  private drain(): void {
    if (this.draining || this.retryTimer) return;
    this.draining = true;
    void this.copyPending()
      .then(() => {
        this.draining = false;
        if (this.pending.length) this.drain();
        else if (this.held.size) this.later();
      })
      .catch((error) => {
        this.draining = false;
        this.log.error({ err: error }, "could not copy journal records; trying again");
        this.later();
      });
  }

  private later(): void {
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.drain();
    }, retryMs);
    this.retryTimer.unref();
  }

  private async copyPending(): Promise<void> {
    const channel = this.channel;
    // held messages first: each precedes every later message of its host
    const batch = [...[...this.held.values()].flat(), ...this.pending.splice(0)];
    this.held.clear();
    if (!channel || batch.length === 0) return;
    const copies: Copy[] = [];
    const done: ConsumeMessage[] = [];
    const now = Date.now();
    for (const message of batch) {
      let outcome: "copy" | "drop" | "hold";
      try {
        outcome = this.take(message, now, copies);
      } catch (error) {
        // a record without the fields its type has
        this.log.error(
          { err: error, headers: message.properties.headers },
          "dropping a journal message it cannot read",
        );
        outcome = "drop";
      }
      if (outcome === "hold") this.hold(message, now);
      else done.push(message);
    }
    try {
      for (const { blobs } of copies) for (const bytes of blobs) await this.storeBlob(bytes);
      if (copies.some((c) => c.blobs.length)) await this.spool.blobs.syncDir();
      if (copies.length) {
        const records = copies.map((c) => c.record);
        await this.spool.appendAll(records);
        this.onCopied(records);
      }
    } catch (error) {
      // kept, in order, for the next try (held ones are in the batch again)
      this.held.clear();
      if (channel === this.channel) this.pending.unshift(...batch);
      throw error;
    }
    for (const message of done) if (channel === this.channel) channel.ack(message);
  }

  private hold(message: ConsumeMessage, now: number): void {
    const origin = journalHeaders(message.properties.headers)!;
    if (!this.heldSince.has(message)) this.heldSince.set(message, now);
    this.held.set(origin.host, [...(this.held.get(origin.host) ?? []), message]);
  }

  /** Adds the message's record to `copies`, or says it is dropped (already had, unreadable) or must wait. */
  private take(message: ConsumeMessage, now: number, copies: Copy[]): "copy" | "drop" | "hold" {
    const origin = journalHeaders(message.properties.headers);
    const end = message.content.indexOf(0x0a) + 1;
    const decoded = end > 0 ? decodeRecord(message.content.toString("utf8", 0, end - 1)) : null;
    if (!origin || !decoded?.ok) {
      this.log.error({ headers: message.properties.headers }, "dropping a journal message that is not a spool line");
      return "drop";
    }
    if (origin.host === this.host || this.marks.has(origin.host, origin.pos) || copies.some((c) => from(c, origin)))
      return "drop";
    if (this.held.get(origin.host)?.length) return "hold";
    const record = decoded.record;
    const known =
      record.type === "accepted" ||
      this.spool.index.get(record.id) !== undefined ||
      copies.some((c) => c.record.type === "accepted" && c.record.id === record.id);
    if (!known) {
      const predatesUs = idTime(record.id) < this.joinedAt;
      if (!predatesUs && now - (this.heldSince.get(message) ?? now) < holdMs) return "hold";
      if (!predatesUs)
        this.log.error({ mailId: record.id, host: origin.host }, "copied a record of a mail this host never received");
    }
    const blobs = this.blobsIn(message, end, record);
    if (!blobs) return "drop";
    const { v: _v, ...rest } = record as SpoolRecord;
    copies.push({ record: { ...rest, via: { host: origin.host, pos: origin.pos } } as NewRecord, blobs });
    return "copy";
  }

  /** The blobs after the line, each checked against the sha256 its record names; null when one does not match. */
  private blobsIn(message: ConsumeMessage, start: number, record: SpoolRecord): Buffer[] | null {
    const blobs: Buffer[] = [];
    let at = start;
    for (const blob of blobsOf(record)) {
      const bytes = message.content.subarray(at, at + blob.size);
      at += blob.size;
      if (createHash("sha256").update(bytes).digest("hex") !== blob.sha256) {
        this.log.error(
          { mailId: record.id, sha256: blob.sha256 },
          "dropping a journal record whose blob does not match",
        );
        return null;
      }
      blobs.push(bytes);
    }
    return blobs;
  }

  private async storeBlob(bytes: Buffer): Promise<void> {
    const writer = await this.spool.blobs.create();
    try {
      await writer.write(bytes);
      await writer.commit();
    } catch (error) {
      await writer.discard();
      throw error;
    }
  }

  /**
   * Resolves once this host's journal queue is empty and everything taken from it is written
   * (what the others recorded while this host was away is in its index), or after timeoutMs.
   */
  async caughtUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // records held for mails this host does not know are not about its own mails: not waited for
    while (Date.now() < deadline && !this.stopped) {
      const channel = this.channel;
      if (channel && !this.draining && !this.pending.length) {
        const { messageCount } = await channel.checkQueue(this.broker.names.journalQueue).catch(() => ({
          messageCount: -1,
        }));
        if (messageCount === 0 && !this.draining && !this.pending.length) return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.channel = null;
  }
}

function from(copy: Copy, origin: JournalHeaders): boolean {
  return copy.record.via?.host === origin.host && copy.record.via.pos === origin.pos;
}

function idTime(id: string): number {
  try {
    return decodeTime(id);
  } catch {
    return 0;
  }
}
