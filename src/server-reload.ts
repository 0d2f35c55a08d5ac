// SIGHUP: a new app.yaml takes over upstreams, limits, tokens, allow lists, quotas,
// alerts, retry/batch policy, DKIM keys, the rescan pattern and the templates (templates.dir
// read anew) without losing, duplicating or re-sending anything (records are untouched;
// attempts in flight finish on the old transport). Keys that need a restart are refused with
// the reason; the old config stays.
import type { LoadedConfig } from "./config.js";
import { createTransport } from "./delivery/create-transport.js";
import { webhookSubscriptions } from "./delivery/webhook-events.js";
import { scheduleRescan } from "./jobs/rescan-failed.js";
import type { RunningServer } from "./server.js";

const restartOnly: [string, (c: LoadedConfig["config"]) => unknown][] = [
  ["server.listen", (c) => c.server.listen],
  ["server.tls", (c) => JSON.stringify(c.server.tls)],
  ["server.maxBodyBytes", (c) => c.server.maxBodyBytes],
  ["spool", (c) => JSON.stringify(c.spool)],
  ["delivery.workers", (c) => c.delivery.workers],
  ["delivery.timezone", (c) => c.delivery.timezone],
  ["smtpIntake", (c) => JSON.stringify(c.smtpIntake)],
  ["log", (c) => JSON.stringify(c.log)],
  ["broker", (c) => JSON.stringify(c.broker)],
];

export function reloadServer(running: RunningServer, loaded: LoadedConfig): void {
  const next = loaded.config;
  const changed = restartOnly.filter(([, read]) => read(next) !== read(running.config)).map(([key]) => key);
  if (changed.length) throw new Error(`these keys need a restart: ${changed.join(", ")}`);
  if (loaded.dataDir !== running.spool.paths.data) throw new Error("spool.dir needs a restart");
  const upstreamsChanged =
    JSON.stringify(next.delivery.upstreams) !== JSON.stringify(running.config.delivery.upstreams) ||
    JSON.stringify(next.delivery.batch) !== JSON.stringify(running.config.delivery.batch);
  const transport = upstreamsChanged
    ? createTransport(
        next,
        running.spool.paths.outbox,
        running.daily,
        running.metrics,
        running.log.child({ component: "smtp" }),
      )
    : undefined;
  running.delivery.reconfigure(
    transport,
    {
      from: next.delivery.from,
      dkim: loaded.dkimKeys,
      retry: next.delivery.retry,
      batch: next.delivery.batch,
      webhooks: webhookSubscriptions(next),
    },
    (next.delivery.socketTimeoutSeconds + next.delivery.connectTimeoutSeconds) * 1000,
  );
  running.quotas.setLimits(next.quotas);
  running.alerts.setLimits(next.alerts);
  if (
    next.failed.rescan !== running.config.failed.rescan ||
    next.failed.maxAgeHours !== running.config.failed.maxAgeHours
  ) {
    running.rescan.stop();
    running.rescan = scheduleRescan(next.failed.rescan, {
      index: running.spool.index,
      replay: (id, options) => running.delivery.replay(id, options),
      maxAgeHours: next.failed.maxAgeHours,
      log: running.log.child({ component: "rescan" }),
    });
  }
  running.app.config = next;
  running.config = next;
  running.templates.current = loaded.templates;
  running.log.info(
    {
      config: loaded.source,
      upstreams: next.delivery.upstreams.map((u) => u.name),
      dkim: loaded.dkimKeys.map((k) => `${k.selector}._domainkey.${k.domain}`),
      // names and scopes only: what an operator checks after a reload, never the secrets
      tokens: next.server.tokens.map((t) => `${t.name}: ${t.scopes.join(", ")}`),
      templates: loaded.templates?.summary ?? [],
    },
    "config reloaded",
  );
}
