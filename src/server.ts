// Composition root of `serve`: config → spool (lock, recover) → delivery → HTTP → jobs.
// Shutdown (server-shutdown.ts) runs in reverse under one deadline: intake answers 503,
// open requests and in-flight deliveries get shutdown.graceSeconds, the writer drains,
// the lock is released.
import path from "node:path";
import type { Cron } from "croner";
import type { Config, LoadedConfig } from "./config.js";
import { parseListen } from "./config.js";
import { createTransport } from "./delivery/create-transport.js";
import { Delivery } from "./delivery/delivery.js";
import { webhookSubscriptions } from "./delivery/webhook-events.js";
import type { Transport } from "./delivery/transports/transport.js";
import { createApp, type AppDeps, type IntakeGate } from "./http/app.js";
import { listen, type Listening } from "./http/serve.js";
import { Idempotency } from "./intake/idempotency.js";
import { intakeLimits } from "./intake/limits.js";
import { Intake } from "./intake/intake.js";
import { Alerts } from "./jobs/alerts.js";
import { startCompactor, type Compactor } from "./jobs/compact-spool.js";
import { scheduleRescan } from "./jobs/rescan-failed.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { reloadServer } from "./server-reload.js";
import { stopServer, type ShutdownReport } from "./server-shutdown.js";
import { PickupWatcher } from "./pickup/watcher.js";
import { startSmtpIntake } from "./smtp/intake-server.js";
import type { SegmentIo } from "./spool/segment.js";
import type { DailyCounter } from "./delivery/daily-counter.js";
import type { Quotas } from "./intake/quotas.js";
import { Spool } from "./spool/spool.js";
import { spoolCounters } from "./spool-counters.js";
import { StateFile } from "./spool/state-file.js";
import { Cluster } from "./cluster/cluster.js";
import type { TemplateSet } from "./templates/template-set.js";

export interface RunningServer {
  url: string;
  config: Config;
  spool: Spool;
  delivery: Delivery;
  listening: Listening;
  gate: IntakeGate;
  app: AppDeps;
  quotas: Quotas;
  alerts: Alerts;
  metrics: Metrics;
  daily: DailyCounter;
  pickup: PickupWatcher;
  /** The compiled templates.dir intake renders with; SIGHUP swaps `current`. */
  templates: { current: TemplateSet | null };
  rescan: Cron;
  compactor: Compactor;
  /** The SMTP intake listener, when smtpIntake.enabled. */
  smtp: { port: number; close(): Promise<void> } | null;
  /** Cluster mode (broker.url): the broker connection and what runs on it; null on a host of its own. */
  cluster: Cluster | null;
  log: Logger;
  /** Within shutdown.graceSeconds plus a few seconds, whatever is stuck. */
  stop(): Promise<ShutdownReport>;
  /** SIGHUP: swaps upstreams, limits, tokens and quotas; throws (keeping the old config) when it cannot. */
  reload(loaded: LoadedConfig): void;
}

export interface ServerOverrides {
  io?: SegmentIo;
  transport?: Transport;
  /** Injected time for tests: the clock, timers' sleep and backoff jitter. */
  clock?: { now?: () => number; sleep?: (ms: number) => Promise<void>; random?: () => number };
  pickupIntervalMs?: number;
}

export async function startServer(
  loaded: LoadedConfig,
  log: Logger,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  const { config } = loaded;
  const child = (component: string) => log.child({ component });
  const counters = spoolCounters(config, log, overrides.clock?.now);
  const { daily, quotas, marks } = counters;
  let metrics: Metrics | undefined;
  const spool = Spool.open({
    dataDir: loaded.dataDir,
    log: child("spool"),
    minFreeBytes: config.spool.minFreeBytes,
    segmentMaxBytes: config.spool.segmentMaxBytes,
    io: overrides.io,
    onCommit: (lines, seconds) => metrics?.commit(lines, seconds),
    counters: counters.all,
  });
  let listening: Listening | undefined;
  let cluster: Cluster | null = null;
  try {
    metrics = new Metrics(spool.index);
    let delivery: Delivery | undefined;
    cluster = marks
      ? await Cluster.start({
          broker: config.broker,
          dataDir: loaded.dataDir,
          spool,
          marks,
          workers: config.delivery.workers,
          shareLimits: (fraction) => delivery?.shareLimits(fraction),
          onCopied: () => delivery?.refreshFailedView(),
          log: child("cluster"),
        })
      : null;
    delivery = new Delivery({
      spool,
      sharedQueue: cluster?.queue,
      transport: overrides.transport ?? createTransport(config, spool.paths.outbox, daily, metrics, child("smtp")),
      from: config.delivery.from,
      dkim: loaded.dkimKeys,
      workers: config.delivery.workers,
      retry: config.delivery.retry,
      batch: config.delivery.batch,
      webhooks: webhookSubscriptions(config),
      log: child("delivery"),
      metrics,
      ...overrides.clock,
    });
    if (cluster) metrics.watchCluster(() => cluster!.status());
    const state = await StateFile.open(path.join(loaded.dataDir, "state.json"), log);
    if (state.paused) delivery.setPaused(true);
    const setPaused = async (paused: boolean) => {
      await state.setPaused(paused);
      delivery.setPaused(paused);
    };
    const alerts = new Alerts(spool.index, metrics, config.alerts, child("alerts"), overrides.clock?.now);
    const gate: IntakeGate = { accepting: true, refusal: cluster ? () => cluster!.refusal() : undefined };
    const templates = { current: loaded.templates };
    const intake = new Intake({
      spool,
      settings: () => ({
        from: app.config.delivery.from,
        maxRecipients: app.config.delivery.maxRecipients,
        maxScheduleDays: app.config.delivery.maxScheduleDays,
        limits: intakeLimits(app.config),
        templates: templates.current,
      }),
      quotas,
      refusal: cluster ? () => cluster!.refusal() : undefined,
      maxMailBytes: cluster ? () => cluster!.maxMessageBytes : undefined,
      onAccepted: cluster
        ? (ids) => cluster!.accepted(ids)
        : (ids) => {
            for (const id of ids) delivery!.accepted(id);
          },
    });
    const app: AppDeps = {
      config,
      spool,
      log: child("http"),
      gate,
      admin: { delivery, setPaused },
      intake: {
        accept: intake,
        // cluster mode: a key on another host's mail counts once that host can no longer cancel it
        idempotency: new Idempotency(
          spool.index,
          overrides.clock?.now,
          cluster ? (config.broker.confirmTimeoutSeconds * 2 + 2) * 1000 : 0,
        ),
      },
      observe: { metrics, alerts, daily },
    };
    listening = await listen(createApp(app), {
      ...parseListen(config.server.listen),
      maxBodyBytes: config.server.maxBodyBytes,
      tls: config.server.tls.cert ? config.server.tls : undefined,
    });
    await delivery.start();
    alerts.start();
    const pickup = new PickupWatcher({
      spool,
      intake,
      actions: delivery,
      log: child("pickup"),
      intervalMs: overrides.pickupIntervalMs,
    });
    pickup.start();
    const rescan = scheduleRescan(config.failed.rescan, {
      index: spool.index,
      replay: (id, options) => delivery.replay(id, options),
      maxAgeHours: config.failed.maxAgeHours,
      log: child("rescan"),
      runsHere: cluster ? () => cluster!.leadership.leader : undefined,
    });
    const compactor = startCompactor(spool, {
      retentionDays: config.spool.retentionDays,
      log: child("compact"),
      keep: cluster ? (segment) => cluster!.keepsSegment(segment) : undefined,
    });
    const smtp = config.smtpIntake.enabled
      ? await startSmtpIntake({ config: () => app.config, intake, log: child("smtp-intake"), clock: overrides.clock })
      : null;
    const smtpAddress = smtp ? `${parseListen(config.smtpIntake.listen).host}:${smtp.port}` : undefined;
    log.info(
      {
        url: listening.url,
        smtp: smtpAddress,
        runtime: listening.runtime,
        dataDir: loaded.dataDir,
        config: loaded.source ?? "embedded default",
      },
      "mailspool listening",
    );
    const running: RunningServer = {
      url: listening.url,
      config,
      spool,
      delivery,
      listening,
      gate,
      app,
      quotas,
      alerts,
      metrics,
      daily,
      pickup,
      templates,
      rescan,
      compactor,
      smtp,
      cluster,
      log,
      stop: () => stopServer(running),
      reload: (next) => reloadServer(running, next),
    };
    return running;
  } catch (error) {
    await listening?.close();
    await cluster?.stop();
    await spool.close();
    throw error;
  }
}
