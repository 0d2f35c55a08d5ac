// Upstream limits hold for the cluster together: every few seconds each host asks the broker
// how many hosts consume the work queue (one consumer per host) and takes that share of
// every upstream's ratePerSecond and burst. The broker hands work round-robin, so busy hosts
// get even shares; a host with no work leaves its share unused (the cluster never goes over).
import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "../log.js";
import type { Broker } from "./broker.js";

const everyMs = 2000;

export class SharedLimits {
  hosts = 1;
  private channel: Channel | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly broker: Broker,
    private readonly share: (fraction: number) => void,
    private readonly log: Logger,
  ) {
    broker.onConnect(async (model: ChannelModel) => {
      const channel = await model.createChannel();
      channel.on("error", () => undefined);
      channel.on("close", () => broker.channelLost(model, "shared limits"));
      this.channel = channel;
      this.apply(await channel.checkQueue(broker.names.work));
    });
    broker.onDisconnect(() => (this.channel = null));
    this.timer = setInterval(() => void this.poll(), everyMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const channel = this.channel;
    if (!channel) return;
    try {
      const { consumerCount } = await channel.checkQueue(this.broker.names.work);
      const hosts = Math.max(1, consumerCount);
      if (hosts !== this.hosts)
        this.log.info({ hosts }, "hosts delivering changed; each takes its share of the limits");
      this.hosts = hosts;
      this.share(1 / hosts);
    } catch (error) {
      this.log.warn({ err: error }, "could not count the hosts delivering");
    }
  }

  private apply({ consumerCount }: { consumerCount: number }): void {
    const hosts = Math.max(1, consumerCount);
    if (hosts !== this.hosts) this.log.info({ hosts }, "hosts delivering changed; each takes its share of the limits");
    this.hosts = hosts;
    this.share(1 / hosts);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
