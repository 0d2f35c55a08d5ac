// The transport a config asks for: the embedded outbox without upstreams, else SMTP
// through them in order.
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { DailyCounter } from "./daily-counter.js";
import { outboxTransport } from "./transports/outbox.js";
import { smtpTransport } from "./transports/smtp.js";
import type { Transport } from "./transports/transport.js";

export function createTransport(
  config: Config,
  outboxDir: string,
  daily: DailyCounter,
  metrics: Metrics,
  log: Logger,
): Transport {
  const { delivery } = config;
  if (delivery.upstreams.length === 0) return outboxTransport(outboxDir);
  return smtpTransport({
    upstreams: delivery.upstreams,
    batchSize: delivery.batch.size,
    connectTimeoutSeconds: delivery.connectTimeoutSeconds,
    socketTimeoutSeconds: delivery.socketTimeoutSeconds,
    daily,
    log,
    onBucketWait: (upstream, ms) => metrics.bucketWait(upstream, ms),
  });
}
