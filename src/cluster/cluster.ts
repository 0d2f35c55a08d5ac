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

export interface ClusterOptions {
  broker: Config["broker"];
  dataDir: string;
  spool: Spool;
  marks: JournalMarks;
  workers: number;
  /** This host's share of the upstreams' limits (the transport's shareLimits). */
  shareLimits(fraction: number): void;
  log: Logger;
}

export class Cluster {
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
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const { log, spool } = options;
    const state = await ClusterState.open(path.join(options.dataDir, "cluster.json"));
    const broker = new Broker(options.broker.url, topology(options.broker.prefix, state.host), log);
    const publisher = new JournalPublisher(spool, broker, state, log);
    const consumer = new JournalConsumer(spool, broker, options.marks, state.host, log);
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
    return new Cluster(
      state.host,
      broker,
      queue,
      leadership,
      publisher,
      consumer,
      limits,
      spool,
      options.broker.confirmTimeoutSeconds * 1000,
    );
  }

  /** Why intake must refuse (the broker is gone), or null. */
  refusal(): string | null {
    return this.broker.connected ? null : this.broker.reason || "broker unreachable";
  }

  /**
   * A mail just written to this host's spool: resolves once the broker confirmed its record
   * in the journal and its work (now, or at its send_at). Otherwise the mail is cancelled
   * here (the record that says so reaches the others too) and intake answers 503.
   */
  async accepted(id: MailId, cancel: (id: MailId, reason: string) => Promise<unknown>): Promise<void> {
    const entry = this.spool.index.get(id)!;
    const pos = positionAfter(entry.location);
    try {
      await this.publisher.confirmedThrough(pos, this.confirmMs);
      const at = entry.state === "scheduled" && entry.nextAttemptAt ? Date.parse(entry.nextAttemptAt) : 0;
      await rejectAfter(
        this.queue.publish(id, at, this.host, pos),
        this.confirmMs,
        "the broker did not confirm the work",
      );
    } catch (error) {
      await cancel(id, "the broker did not confirm it; the client was answered 503").catch(() => undefined);
      throw new MailspoolError("unavailable", `The broker did not confirm the mail (${(error as Error).message})`);
    }
  }

  /** After delivery has stopped: the publishing position is saved, the connection closed. */
  async stop(): Promise<void> {
    this.limits.stop();
    this.leadership.stop();
    this.consumer.stop();
    await this.publisher.stop();
    await this.broker.close();
  }
}
