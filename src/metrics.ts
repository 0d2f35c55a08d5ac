// Prometheus metrics (prom-client, a registry of our own): what intake, the spool writer
// and delivery report as it happens, gauges read from the index at scrape time, and the
// runtime's default process metrics (CPU, memory, file descriptors, event loop, heap, GC).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MailIndex } from "./spool/mail-index.js";

/**
 * The process metrics describe the process, so there is one set per process however many
 * servers it starts (tests start many): each set keeps an event-loop monitor and a GC
 * observer running for good. Under Bun the heap-space and handle figures are zeros.
 */
let processRegistry: Registry | undefined;
let processMetricsError = "";
function startProcessMetrics(): void {
  if (processRegistry) return;
  processRegistry = new Registry();
  try {
    collectDefaultMetrics({ register: processRegistry });
  } catch (error) {
    processMetricsError = (error as Error).message;
  }
}

/** A runtime that cannot give some process metric gets a comment line saying so, never a failed scrape. */
async function processMetricsText(): Promise<string> {
  const unavailable = (reason: string) => `# process metrics unavailable: ${reason.replace(/\s+/g, " ")}\n`;
  try {
    const text = processRegistry ? await processRegistry.metrics() : "";
    return processMetricsError ? `${text}${unavailable(processMetricsError)}` : text;
  } catch (error) {
    return unavailable((error as Error).message);
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly accepted = new Counter({
    name: "mailspool_accepted_total",
    help: "Mails accepted (durable 200)",
    registers: [this.registry],
  });
  private readonly rejected = new Counter({
    name: "mailspool_rejected_total",
    help: "Send requests refused, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  private readonly attempts = new Counter({
    name: "mailspool_attempts_total",
    help: "Delivery attempts by the state they left the mail in",
    labelNames: ["state"],
    registers: [this.registry],
  });
  private readonly transactions = new Counter({
    name: "mailspool_upstream_transactions_total",
    help: "SMTP transactions per upstream and reply class",
    labelNames: ["upstream", "class"],
    registers: [this.registry],
  });
  private readonly upstreamErrors = new Counter({
    name: "mailspool_upstream_errors_total",
    help: "Upstream-level failures (connection, AUTH, 4xx, timeouts)",
    labelNames: ["upstream"],
    registers: [this.registry],
  });
  private readonly bucketWaits = new Counter({
    name: "mailspool_bucket_wait_seconds_total",
    help: "Time spent waiting for an upstream's token bucket",
    labelNames: ["upstream"],
    registers: [this.registry],
  });
  private readonly commitLines = new Histogram({
    name: "mailspool_fsync_batch_lines",
    help: "Spool lines per group commit",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: "mailspool_fsync_seconds",
    help: "Spool write + fdatasync latency",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  private readonly intakeSeconds = new Histogram({
    name: "mailspool_intake_seconds",
    help: "Send request latency until the durable 200",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  private readonly webhookDeliveries = new Counter({
    name: "mailspool_webhook_deliveries_total",
    help: "Event webhook POSTs answered with a 2xx",
    registers: [this.registry],
  });
  private readonly webhookFailures = new Counter({
    name: "mailspool_webhook_failures_total",
    help: "Event webhook POSTs that failed (non-2xx, refused, timed out); each is retried until maxAgeHours",
    registers: [this.registry],
  });
  private readonly webhookGivenUp = new Counter({
    name: "mailspool_webhook_given_up_total",
    help: "Event webhooks given up (older than their maxAgeHours, or no longer configured)",
    registers: [this.registry],
  });
  private readonly webhookPending = new Gauge({
    name: "mailspool_webhook_pending",
    help: "Event webhooks recorded and not yet delivered or given up",
    registers: [this.registry],
  });
  readonly alerts = new Gauge({
    name: "mailspool_alert_active",
    help: "1 while an alert is active",
    labelNames: ["alert"],
    registers: [this.registry],
  });
  /** Last reply class per upstream: every upstream failing makes /health degraded. */
  private readonly upstreamHealthy = new Map<string, boolean>();
  /** Each upstream's last failed transaction: when, its code and reply (the console shows it). */
  readonly upstreamLastError = new Map<string, { at: string; code: number; response: string }>();

  readonly contentType = this.registry.contentType;

  constructor(index: MailIndex) {
    startProcessMetrics();
    new Gauge({
      name: "mailspool_queue_depth",
      help: "Mails waiting for delivery (queued, sending or deferred)",
      registers: [this.registry],
      collect() {
        const counts = index.countByState();
        this.set(counts.queued + counts.sending + counts.deferred);
      },
    });
    new Gauge({
      name: "mailspool_scheduled_mails",
      help: "Mails waiting for their send_at (scheduled)",
      registers: [this.registry],
      collect() {
        this.set(index.countByState().scheduled);
      },
    });
    new Gauge({
      name: "mailspool_oldest_queued_seconds",
      help: "Age of the oldest mail waiting for delivery",
      registers: [this.registry],
      collect() {
        this.set(oldestQueuedSeconds(index, Date.now()));
      },
    });
  }

  /** Cluster mode: the broker connection, the hosts delivering, whether this one leads (read at scrape time). */
  watchCluster(status: () => { connected: boolean; hosts: number; leader: boolean }): void {
    const gauge = (name: string, help: string, read: (s: ReturnType<typeof status>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(status()));
        },
      });
    gauge("mailspool_broker_connected", "1 while the broker connection is up (cluster mode)", (s) =>
      Number(s.connected),
    );
    gauge(
      "mailspool_cluster_hosts",
      "Hosts consuming the work queue, each taking its share of the limits",
      (s) => s.hosts,
    );
    gauge("mailspool_cluster_leader", "1 on the host that runs the cluster's once-only jobs", (s) => Number(s.leader));
  }

  /** The exposition text: ours, then the process metrics. */
  async scrape(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processMetricsText()}`;
  }

  mailAccepted(seconds: number): void {
    this.accepted.inc();
    this.intakeSeconds.observe(seconds);
  }

  requestRejected(reason: string): void {
    this.rejected.inc({ reason });
  }

  attemptEnded(state: string): void {
    this.attempts.inc({ state });
  }

  /** One event webhook POST: delivered (2xx) or failed; given up; how many wait now. */
  webhookTried(delivered: boolean): void {
    (delivered ? this.webhookDeliveries : this.webhookFailures).inc();
  }

  webhookGaveUp(): void {
    this.webhookGivenUp.inc();
  }

  webhooksPending(count: number): void {
    this.webhookPending.set(count);
  }

  transaction(upstream: string, code: number, upstreamFailure: boolean, response: string): void {
    this.transactions.inc({ upstream, class: code ? `${Math.floor(code / 100)}xx` : "none" });
    if (upstreamFailure) {
      this.upstreamErrors.inc({ upstream });
      this.upstreamLastError.set(upstream, { at: new Date().toISOString(), code, response });
    }
    this.upstreamHealthy.set(upstream, !upstreamFailure);
  }

  bucketWait(upstream: string, ms: number): void {
    if (ms > 0) this.bucketWaits.inc({ upstream }, ms / 1000);
  }

  commit(lines: number, seconds: number): void {
    this.commitLines.observe(lines);
    this.commitSeconds.observe(seconds);
  }

  /** True when every upstream we have heard from failed its last transaction. */
  get allUpstreamsFailing(): boolean {
    return this.upstreamHealthy.size > 0 && [...this.upstreamHealthy.values()].every((ok) => !ok);
  }

  /** The upstreams whose last transaction failed. */
  get failingUpstreams(): string[] {
    return [...this.upstreamHealthy].filter(([, ok]) => !ok).map(([name]) => name);
  }
}

export function oldestQueuedSeconds(index: MailIndex, now: number): number {
  const oldest = index.oldestAcceptedAt(["queued", "sending", "deferred"]);
  return oldest ? Math.max(0, (now - Date.parse(oldest)) / 1000) : 0;
}
