// GET /health in the original service's shape: 200 while intake can accept mail
// (`degraded` when delivery has trouble), 503 only when it cannot. queued_emails and
// failed_emails are what waits now; total_emails_processed and success_rate come from the
// spool's event totals (spool/totals.ts), so a retry or cancel never lowers them.
import { Hono } from "hono";
import { MailspoolError } from "../../errors.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";

export function healthRoute({ spool, gate, admin, observe }: AppDeps) {
  return new Hono<AppEnv>().get("/health", (c) => {
    let canAccept = gate.accepting;
    try {
      spool.checkCapacity();
    } catch (error) {
      if (!(error instanceof MailspoolError)) throw error;
      canAccept = false;
    }
    const counts = spool.index.countByState();
    const totals = spool.totals();
    const body = {
      status:
        canAccept &&
        !admin.delivery.paused &&
        !observe.metrics.allUpstreamsFailing &&
        observe.alerts.activeAlerts.length === 0
          ? "ok"
          : "degraded",
      timestamp: new Date().toISOString(),
      details: {
        disk_space_available_mb: Number.isFinite(spool.availableBytes)
          ? Math.floor(spool.availableBytes / 1048576)
          : null,
        queued_emails: counts.queued + counts.deferred + counts.sending,
        failed_emails: counts.partial + counts.failed,
        total_emails_processed: totals.processed,
        success_rate: totals.processed ? Math.round((totals.successful / totals.processed) * 10000) / 100 : 100,
      },
    };
    return c.json(body, canAccept ? 200 : 503);
  });
}
