// GET /health in the original service's shape: 200 while intake can accept mail
// (`degraded` when delivery has trouble), 503 only when it cannot; `reasons` says why it
// is not `ok`, each with a stable code and a sentence for people. queued_emails and
// failed_emails are what waits now; total_emails_processed and success_rate come from
// the spool's event totals (spool/totals.ts), so a retry or cancel never lowers them.
import { Hono } from "hono";
import { z } from "zod";
import { MailspoolError } from "../../errors.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { isoTimeSchema } from "../api-schemas.js";

const healthReasonCodes = [
  "shutting_down",
  "broker_unreachable",
  "disk_below_reserve",
  "delivery_paused",
  "upstreams_failing",
  "alert_backlog",
  "alert_failure_rate",
] as const;

export type HealthReasonCode = (typeof healthReasonCodes)[number];

export const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  timestamp: isoTimeSchema,
  details: z.object({
    disk_space_available_mb: z.number().int().nullable(),
    queued_emails: z.number().int(),
    scheduled_emails: z.number().int(),
    failed_emails: z.number().int(),
    total_emails_processed: z.number().int(),
    success_rate: z.number().meta({ description: "Percent of processed mails sent" }),
  }),
  reasons: z.array(z.object({ code: z.enum(healthReasonCodes), message: z.string() })),
});

export interface HealthReason {
  code: HealthReasonCode;
  message: string;
}

const mib = (bytes: number) => Math.floor(bytes / 1048576);

/** Why intake cannot accept mail: each of these makes /health 503. */
function intakeReasons({ spool, gate, config }: AppDeps): HealthReason[] {
  const reasons: HealthReason[] = [];
  if (!gate.accepting) reasons.push({ code: "shutting_down", message: "Shutting down: intake refuses new mail" });
  const refusal = gate.refusal?.();
  if (refusal)
    reasons.push({
      code: "broker_unreachable",
      message: `Cluster mode: ${refusal}; intake answers 503 and delivery waits until the broker is back`,
    });
  try {
    spool.checkCapacity();
  } catch (error) {
    if (!(error instanceof MailspoolError)) throw error;
    reasons.push({
      code: "disk_below_reserve",
      message: `Spool disk has ${mib(spool.availableBytes)} MiB free, below the reserve of ${mib(config.spool.minFreeBytes)} MiB (spool.minFreeBytes): intake answers 507`,
    });
  }
  return reasons;
}

/** Why delivery is in trouble while intake still accepts. */
function deliveryReasons({ admin, observe }: AppDeps): HealthReason[] {
  const reasons: HealthReason[] = [];
  if (admin.delivery.paused)
    reasons.push({
      code: "delivery_paused",
      message: "Delivery is paused (POST /admin/resume restarts it); intake keeps accepting",
    });
  if (observe.metrics.allUpstreamsFailing)
    reasons.push({
      code: "upstreams_failing",
      message: `Every upstream failed its last transaction: ${observe.metrics.failingUpstreams.join(", ")}`,
    });
  for (const alert of observe.alerts.activeStates)
    reasons.push(
      alert.alert === "backlog"
        ? {
            code: "alert_backlog",
            message: `Backlog alert: the oldest waiting mail is ${alert.value} min old (alerts.oldestQueuedMinutes: ${alert.limit})`,
          }
        : {
            code: "alert_failure_rate",
            message: `Failure-rate alert: ${alert.value}% of the attempts in the last hour did not end sent (alerts.failureRatePercent: ${alert.limit})`,
          },
    );
  return reasons;
}

export function healthRoute(deps: AppDeps) {
  const { spool } = deps;
  return new Hono<AppEnv>().get("/health", (c) => {
    const blocking = intakeReasons(deps);
    const reasons = [...blocking, ...deliveryReasons(deps)];
    const counts = spool.index.countByState();
    const totals = spool.totals();
    const body: z.infer<typeof healthSchema> = {
      status: reasons.length ? "degraded" : "ok",
      timestamp: new Date().toISOString(),
      details: {
        disk_space_available_mb: Number.isFinite(spool.availableBytes) ? mib(spool.availableBytes) : null,
        queued_emails: counts.queued + counts.deferred + counts.sending,
        scheduled_emails: counts.scheduled,
        failed_emails: counts.partial + counts.failed,
        total_emails_processed: totals.processed,
        success_rate: totals.processed ? Math.round((totals.successful / totals.processed) * 10000) / 100 : 100,
      },
      reasons,
    };
    return c.json(body, blocking.length ? 503 : 200);
  });
}
