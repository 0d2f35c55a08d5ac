// Composition root of `serve`: config → spool (lock, recover) → delivery → HTTP.
// Shutdown runs in reverse: intake answers 503, open requests and in-flight deliveries
// get shutdown.graceSeconds, the segment writer drains, the lock is released.
import type { Config, LoadedConfig } from "./config.js";
import { parseListen } from "./config.js";
import { DailyCounter } from "./delivery/daily-counter.js";
import { Delivery } from "./delivery/delivery.js";
import { smtpTransport } from "./delivery/transports/smtp.js";
import { outboxTransport } from "./delivery/transports/outbox.js";
import type { Transport } from "./delivery/transports/transport.js";
import { createApp, type IntakeGate } from "./http/app.js";
import { listen, type Listening } from "./http/serve.js";
import type { Logger } from "./log.js";
import path from "node:path";
import type { Cron } from "croner";
import { Idempotency } from "./intake/idempotency.js";
import { PickupWatcher } from "./intake/pickup.js";
import { Quotas } from "./intake/quotas.js";
import { intakeLimits } from "./intake/limits.js";
import { scheduleRescan } from "./jobs/rescan-failed.js";
import { StateFile } from "./spool/state-file.js";
import { startCompactor, type Compactor } from "./jobs/compact-spool.js";
import { Spool } from "./spool/spool.js";
import type { SegmentIo } from "./spool/segment.js";

export interface RunningServer {
  url: string;
  spool: Spool;
  delivery: Delivery;
  listening: Listening;
  pickup: PickupWatcher;
  rescan: Cron;
  compactor: Compactor;
  stop(): Promise<void>;
}

export interface ServerOverrides {
  io?: SegmentIo;
  transport?: Transport;
  /** Injected time for tests: the clock, timers' sleep and backoff jitter. */
  clock?: { now?: () => number; sleep?: (ms: number) => Promise<void>; random?: () => number };
  pickupIntervalMs?: number;
}

export async function startServer(loaded: LoadedConfig, log: Logger, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const { config } = loaded;
  const daily = new DailyCounter(config.delivery.timezone);
  const quotas = new Quotas(config.quotas, config.delivery.timezone, log.child({ component: "quotas" }), overrides.clock?.now);
  const spool = Spool.open({
    dataDir: loaded.dataDir,
    log: log.child({ component: "spool" }),
    minFreeBytes: config.spool.minFreeBytes,
    segmentMaxBytes: config.spool.segmentMaxBytes,
    io: overrides.io,
    observers: [(record) => daily.observe(record), (record) => quotas.observe(record)],
  });
  let listening: Listening | undefined;
  let delivery: Delivery | undefined;
  try {
    delivery = new Delivery({
      spool,
      transport: overrides.transport ?? createTransport(config, spool, daily, log.child({ component: "smtp" })),
      from: config.delivery.from,
      workers: config.delivery.workers,
      retry: config.delivery.retry,
      batch: config.delivery.batch,
      failureWebhook: config.failed.notify.webhook,
      log: log.child({ component: "delivery" }),
      ...overrides.clock,
    });
    const state = await StateFile.open(path.join(loaded.dataDir, "state.json"), log);
    const setPaused = async (paused: boolean) => {
      await state.setPaused(paused);
      delivery!.setPaused(paused);
    };
    if (state.paused) delivery.setPaused(true);
    const gate: IntakeGate = { accepting: true };
    const app = createApp({
      config,
      spool,
      log: log.child({ component: "http" }),
      gate,
      admin: { delivery, setPaused },
      intake: { quotas, idempotency: new Idempotency(spool.index, overrides.clock?.now) },
      onAccepted: (id) => delivery!.enqueue(id),
    });
    listening = await listen(app, { ...parseListen(config.server.listen), maxBodyBytes: config.server.maxBodyBytes, tls: config.server.tls.cert ? config.server.tls : undefined });
    await delivery.start();
    const pickup = new PickupWatcher({
      spool,
      delivery,
      policy: { from: config.delivery.from, maxRecipients: config.delivery.maxRecipients },
      limits: intakeLimits(config),
      log: log.child({ component: "pickup" }),
      intervalMs: overrides.pickupIntervalMs,
    });
    pickup.start();
    const rescan = scheduleRescan(config.failed.rescan, {
      index: spool.index,
      replay: (id, options) => delivery!.replay(id, options),
      maxAgeHours: config.failed.maxAgeHours,
      log: log.child({ component: "rescan" }),
    });
    log.info({ url: listening.url, runtime: listening.runtime, dataDir: loaded.dataDir, config: loaded.source ?? "embedded default" }, "mailspool listening");
    const compactor = startCompactor(spool, { retentionDays: config.spool.retentionDays, log: log.child({ component: "compact" }) });
    const running = { url: listening.url, spool, delivery, listening, pickup, rescan, compactor };
    return { ...running, stop: () => stopServer(running, gate, config.shutdown.graceSeconds * 1000, log) };
  } catch (error) {
    await listening?.close();
    await spool.close();
    throw error;
  }
}

/** The embedded outbox without upstreams, else SMTP through them in order. */
function createTransport(config: Config, spool: Spool, daily: DailyCounter, log: Logger): Transport {
  const { delivery } = config;
  if (delivery.upstreams.length === 0) return outboxTransport(spool.paths.outbox);
  return smtpTransport({
    upstreams: delivery.upstreams,
    batchSize: delivery.batch.size,
    connectTimeoutSeconds: delivery.connectTimeoutSeconds,
    socketTimeoutSeconds: delivery.socketTimeoutSeconds,
    daily,
    log,
  });
}

async function stopServer(running: Omit<RunningServer, "stop">, gate: IntakeGate, graceMs: number, log: Logger): Promise<void> {
  gate.accepting = false;
  running.rescan.stop();
  await running.compactor.stop();
  log.info({ graceMs }, "shutting down: intake closed");
  await running.pickup.stop();
  await Promise.all([running.delivery.stop(graceMs), withTimeout(running.listening.close(), graceMs)]);
  await running.spool.close();
  log.info("shutdown complete");
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
