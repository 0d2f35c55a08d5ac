// GET /metrics (admin.allow; no token from loopback, else an `admin` token: the figures
// cover every client's mail): Prometheus text, or — with ?format=json, or an Accept header
// preferring application/json — the original service's totals, counted from spool events.
import { Hono } from "hono";
import { z } from "zod";
import { accepts } from "hono/accepts";
import { metricsJson } from "../../spool/totals.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { adminAccess } from "../admin-access.js";
import { requireScope } from "../token-scopes.js";

export const metricsJsonSchema = z.object({
  total_emails: z.number().int(),
  successful_emails: z.number().int(),
  failed_emails: z.number().int(),
  total_recipients: z.number().int(),
  avg_processing_time_ms: z.number().int(),
});

export function metricsRoute(deps: AppDeps) {
  const { spool, observe } = deps;
  const app = new Hono<AppEnv>();
  app.get(
    "/metrics",
    adminAccess(() => deps.config.admin.allow),
    requireScope("admin"),
    async (c) => {
      const wanted = accepts(c, {
        header: "Accept",
        supports: ["text/plain", "application/json"],
        default: "text/plain",
      });
      c.header("Vary", "Accept");
      if (c.req.query("format") === "json" || wanted === "application/json")
        return c.json(metricsJson(spool.totals()) satisfies z.infer<typeof metricsJsonSchema>);
      c.header("Content-Type", observe.metrics.contentType);
      return c.body(await observe.metrics.scrape());
    },
  );
  return app;
}
