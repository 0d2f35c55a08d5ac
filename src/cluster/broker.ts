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
  private model: ChannelModel | null = null;
  private closing = false;
  /** A part whose channel closed while the parts were being attached (setup then fails and recovery retries). */
  private brokenInSetup: string | null = null;
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
          // a connection that closes while the parts attach must not count as connected
          let closed = false;
          model.once("close", () => (closed = true));
          this.model = model;
          this.brokenInSetup = null;
          const channel = await model.createChannel();
          await declareTopology(channel, this.names);
          await channel.close();
          for (const attach of this.attachers) await attach(model);
          // a channel closed by the broker during setup is reported on the next turn
          await new Promise((resolve) => setImmediate(resolve));
          if (closed) throw new Error("the broker connection closed while it was being set up");
          if (this.brokenInSetup) {
            void model.close().catch(() => undefined);
            throw new Error(`the broker closed the ${this.brokenInSetup} channel while it was being set up`);
          }
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

  /**
   * A part's channel on `model` closed while the connection stayed up (the broker closed it:
   * a consumer timeout, an error): the whole connection is closed so that recovery sets
   * every part up again, rather than that part going quiet.
   */
  channelLost(model: ChannelModel, part: string): void {
    // the channels of a lost connection close too: that is a disconnect, handled as one
    setImmediate(() => {
      if (this.closing || model !== this.model) return;
      if (!this.connected) {
        this.brokenInSetup = part;
        return;
      }
      this.log.warn({ part }, "the broker closed a channel; reconnecting");
      this.model = null;
      void model.close().catch(() => undefined);
    });
  }

  private lost(error: Error): void {
    const was = this.connected;
    this.model = null;
    this.connected = false;
    this.reason = `broker unreachable: ${error.message}`;
    if (was) this.log.error({ err: error }, "lost the broker; intake answers 503 and delivery waits until it is back");
    for (const detach of this.detachers) detach();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.connection?.close().catch(() => undefined);
    this.connection = null;
    this.connected = false;
    this.reason = "closed";
  }
}
