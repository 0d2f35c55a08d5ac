// One host of the cluster runs the jobs that must run once (the failed-spool rescan): the
// one that declared the exclusive leader queue (RabbitMQ refuses the others with
// RESOURCE_LOCKED; an exclusive consumer is no lock on a quorum queue). The others try again
// every few seconds; when the leader's connection goes, the broker deletes the queue.
import type { ChannelModel } from "amqplib";
import type { Logger } from "../log.js";
import type { Broker } from "./broker.js";

const retryMs = 3000;

export class Leadership {
  leader = false;
  private model: ChannelModel | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly broker: Broker,
    private readonly log: Logger,
  ) {
    broker.onConnect(async (model) => {
      this.model = model;
      this.tryLater(0);
    });
    broker.onDisconnect(() => {
      this.model = null;
      this.leader = false;
    });
  }

  private tryLater(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.claim(), ms);
    this.timer.unref();
  }

  private async claim(): Promise<void> {
    const model = this.model;
    if (!model || this.leader) return;
    try {
      const channel = await model.createChannel();
      channel.on("error", () => undefined);
      channel.on("close", () => {
        if (this.leader && this.model === model) this.log.warn("no longer the cluster's leader");
        this.leader = false;
        if (this.model === model) this.tryLater(retryMs);
      });
      await channel.assertQueue(this.broker.names.leader, { exclusive: true, durable: false });
      this.leader = true;
      this.log.info("this host is the cluster's leader (runs the failed-spool rescan)");
    } catch {
      // another host holds the queue: its channel closed the attempt, "close" retries
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.model = null;
  }
}
