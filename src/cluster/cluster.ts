// Cluster mode (broker.url set): the parts that make several hosts one relay on RabbitMQ,
// wired together. Every host's spool stays its journal and gets every other host's records
// (journal-publisher.ts → journal-consumer.ts), so any host answers for any mail; delivery
// takes mails from the shared work queue (broker-queue.ts); the limits are shared
// (shared-limits.ts) and one host runs the once-only jobs (leadership.ts).
import path from "node:path";
import type { Config } from "../config.js";
import { MailspoolError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import { rejectAfter } from "../time-limit.js";
import type { MailId } from "../types.js";
import { Broker } from "./broker.js";
import { BrokerQueue } from "./broker-queue.js";
import { ClusterState } from "./cluster-state.js";
import { JournalConsumer } from "./journal-consumer.js";
import type { JournalMarks } from "./journal-marks.js";
import { JournalPublisher } from "./journal-publisher.js";
import { Leadership } from "./leadership.js";
import { positionAfter } from "./positions.js";
import { SharedLimits } from "./shared-limits.js";
import { topology } from "./topology.js";
import { readLines } from "./own-records.js";
import { published } from "./journal-publisher.js";

/** Own accepted and replay records between the confirmed position and the end: their work may be missing. */
function unconfirmedWork(spool: Spool, from: number, to: number): { ids: MailId[]; through: number } {
  const ids = new Set<MailId>();
  for (let at = from; at < to;) {
    const { lines, reached } = readLines(spool.paths, at, to);
    for (const { record } of lines)
      if (published(record) && (record.type === "accepted" || record.type === "replay")) ids.add(record.id);
    if (reached <= at) break;
    at = reached;
  }
  return { ids: [...ids], through: to };
}

/** At start, how long the last stop's work waits for the journal to bring what the others did meanwhile. */
const catchUpMs = 30_000;
/** At shutdown, how long the last records may take to be confirmed. */
const stopPublishMs = 2000;

export interface ClusterOptions {
  broker: Config["broker"];
  dataDir: string;
  spool: Spool;
  marks: JournalMarks;
  workers: number;
  /** This host's share of the upstreams' limits (the transport's shareLimits). */
  shareLimits(fraction: number): void;
  /** Other hosts' records were copied in (delivery rewrites the failed view). */
  onCopied(): void;
  log: Logger;
}

export class Cluster {
  private stopped = false;

  private constructor(
    readonly host: string,
    readonly broker: Broker,
    readonly queue: BrokerQueue,
    readonly leadership: Leadership,
    private readonly publisher: JournalPublisher,
    private readonly consumer: JournalConsumer,
    private readonly limits: SharedLimits,
    private readonly spool: Spool,
    private readonly confirmMs: number,
    private readonly log: Logger,
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const { log, spool } = options;
    const state = await ClusterState.open(path.join(options.dataDir, "cluster.json"), options.marks.any);
    const broker = new Broker(options.broker.url, topology(options.broker.prefix, state.host), log);
    const publisher = new JournalPublisher(spool, broker, state, log, options.broker.maxMessageBytes);
    const consumer = new JournalConsumer(spool, broker, options.marks, state.host, log, options.onCopied);
    const unconfirmed = unconfirmedWork(spool, state.published, publisher.end);
    const queue = new BrokerQueue({
      broker,
      index: spool.index,
      marks: options.marks,
      host: state.host,
      lastOwn: () => publisher.lastOwn,
      prefetch: options.workers,
      log,
    });
    const leadership = new Leadership(broker, log);
    const limits = new SharedLimits(broker, options.shareLimits, log);
    await broker.start();
    log.info({ host: state.host, prefix: options.broker.prefix }, "cluster mode: connecting to the broker");
    const cluster = new Cluster(
      state.host,
      broker,
      queue,
      leadership,
      publisher,
      consumer,
      limits,
      spool,
      options.broker.confirmTimeoutSeconds * 1000,
      log,
    );
    if (unconfirmed.ids.length) void cluster.resumeWork(unconfirmed.ids, unconfirmed.through, log);
    return cluster;
  }

  /**
   * Mails accepted or replayed here just before the last stop whose records the broker had
   * not confirmed (so their work may never have been published): once the journal has them,
   * and the journal has brought what the other hosts did meanwhile, work is published for
   * those still waiting. If the work had gone out after all and no host has finished the mail
   * yet, it may be sent twice — the price of never leaving an accepted mail behind.
   */
  private async resumeWork(ids: MailId[], through: number, log: Logger): Promise<void> {
    try {
      await this.publisher.confirmedThrough(through, 2 ** 31 - 1);
      // what the others did with these mails meanwhile (sent them, say) is read first
      if (!(await this.consumer.caughtUp(catchUpMs)) && !this.stopped)
        log.warn({ waitedMs: catchUpMs }, "the journal has not caught up; publishing the last stop's work anyway");
      if (this.stopped) return;
      let published = 0;
      for (const id of ids) {
        const entry = this.spool.index.get(id);
        if (entry?.state !== "queued" && entry?.state !== "scheduled") continue;
        const at = entry.state === "scheduled" && entry.nextAttemptAt ? Date.parse(entry.nextAttemptAt) : 0;
        this.queue.schedule(id, at);
        published += 1;
      }
      log.warn(
        { mails: published },
        "work published again for mails whose records the broker had not confirmed at the last stop",
      );
    } catch (error) {
      log.error({ err: error }, "could not publish work for mails of the last stop");
    }
  }

  /** The compactor leaves a segment live while it holds records of this host the broker has not confirmed. */
  keepsSegment(segment: number): boolean {
    return segment >= this.publisher.unconfirmedSegment;
  }

  /** What /metrics shows of the cluster. */
  status(): { connected: boolean; hosts: number; leader: boolean } {
    return { connected: this.broker.connected, hosts: this.limits.hosts, leader: this.leadership.leader };
  }

  /** The largest journal message (a mail's record and its attachments) the broker takes. */
  get maxMessageBytes(): number {
    return this.publisher.maxMessageBytes;
  }

  /** Why intake must refuse (the broker is gone), or null. */
  refusal(): string | null {
    return this.broker.connected ? null : this.broker.reason || "broker unreachable";
  }

  /**
   * Mails just written to this host's spool (one, or a batch's): resolves once the broker
   * confirmed their records in the journal and their work (now, or at send_at). Otherwise all
   * of them are cancelled here, their Idempotency-Keys freed (the cancel reaches the other
   * hosts too), and intake answers 503: nothing the broker did not confirm gets a 200.
   */
  async accepted(ids: MailId[]): Promise<void> {
    const entries = ids.map((id) => this.spool.index.get(id)!);
    try {
      const last = Math.max(...entries.map((entry) => positionAfter(entry.location)));
      await this.publisher.confirmedThrough(last, this.confirmMs);
      await rejectAfter(
        Promise.all(
          entries.map((entry) => {
            const at = entry.state === "scheduled" && entry.nextAttemptAt ? Date.parse(entry.nextAttemptAt) : 0;
            return this.queue.publish(entry.id, at, this.host, positionAfter(entry.location));
          }),
        ),
        this.confirmMs,
        "the broker did not confirm the work",
      );
    } catch (error) {
      await this.refuse(ids).catch((failure) => this.log.error({ err: failure }, "could not cancel refused mails"));
      throw new MailspoolError("unavailable", `The broker did not confirm the mail (${(error as Error).message})`);
    }
  }

  private async refuse(ids: MailId[]): Promise<void> {
    const records = await Promise.all(
      ids.map(async (id) => {
        const { idempotencyKey } = await this.spool.readAccepted(id);
        return {
          type: "cancel" as const,
          id,
          reason: "the broker did not confirm it; the client was answered 503",
          ...(idempotencyKey ? { releasesKey: idempotencyKey } : {}),
        };
      }),
    );
    await this.spool.appendAll(records);
  }

  /** After delivery has stopped: the publishing position is saved, the connection closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    // what this host recorded last (outcomes of the final deliveries) reaches the others first
    await rejectAfter(this.publisher.confirmedThrough(this.publisher.lastOwn, stopPublishMs), stopPublishMs, "").catch(
      () => this.log.warn("stopping before the broker confirmed this host's last records; they go at the next start"),
    );
    this.limits.stop();
    this.leadership.stop();
    this.consumer.stop();
    await this.publisher.stop();
    await this.broker.close();
  }
}
