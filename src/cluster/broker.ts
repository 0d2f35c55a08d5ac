// The connection to RabbitMQ: amqplib's recovering connection (reconnects with backoff by
// itself), the topology declared after every (re)connect, then each part of the cluster
// (publisher, consumers, leadership) attaches its own channel. `reason` says why it is
// down, for /health and intake's 503.
import amqp, { type ChannelModel, type RecoveringChannelModel } from "amqplib";
import type { Logger } from "../log.js";
import { declareTopology, type Topology } from "./topology.js";

export type Attach = (model: ChannelModel) => Promise<void>;

export class Broker {
  private connection: RecoveringChannelModel | null = null;
  private readonly attachers: Attach[] = [];
  private readonly detachers: (() => void)[] = [];
  connected = false;
  reason = "not connected yet";

  constructor(
    private readonly url: string,
    readonly names: Topology,
    private readonly log: Logger,
  ) {}

  /** Runs after every (re)connect, once the topology is declared. */
  onConnect(attach: Attach): void {
    this.attachers.push(attach);
  }

  /** Runs when the connection is lost (channels on it are gone). */
  onDisconnect(detach: () => void): void {
    this.detachers.push(detach);
  }

  /** Starts connecting; resolves at once (the first connection may come later). */
  async start(): Promise<void> {
    const connection = await amqp.connect(this.url, {
      recovery: {
        waitForConnect: false,
        initialDelay: 200,
        maxDelay: 5000,
        setup: async (model: ChannelModel) => {
          const channel = await model.createChannel();
          await declareTopology(channel, this.names);
          await channel.close();
          for (const attach of this.attachers) await attach(model);
        },
      },
    });
    this.connection = connection;
    connection.on("connect", () => {
      this.connected = true;
      this.reason = "";
      this.log.info("connected to the broker");
    });
    connection.on("disconnect", (error: Error) => this.lost(error));
    connection.on("connect-failed", (error: Error) => this.lost(error));
    connection.on("error", (error: Error) => this.log.warn({ err: error }, "broker connection error"));
  }

  private lost(error: Error): void {
    const was = this.connected;
    this.connected = false;
    this.reason = `broker unreachable: ${error.message}`;
    if (was) this.log.error({ err: error }, "lost the broker; intake answers 503 and delivery waits until it is back");
    for (const detach of this.detachers) detach();
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    this.connection = null;
    this.connected = false;
    this.reason = "closed";
  }
}
