// The admin API: pause/resume delivery (intake keeps accepting; the flag survives a
// restart), cancel a mail, and re-drive the failed spool (answered per mail).
import { Hono } from "hono";
import { z } from "zod";
import { parseSince } from "../../duration.js";
import { MailspoolError } from "../../errors.js";
import { retryFailed } from "../../delivery/retry-failed.js";
import { fieldErrors } from "../../intake/mail-schema.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { adminAccess } from "../admin-access.js";
import { success } from "../envelope.js";
import { mailIdSchema } from "../api-schemas.js";
import { requireScope } from "../token-scopes.js";

export const retryFilterSchema = z.strictObject({
  since: z
    .string()
    .refine((v) => parseSince(v) !== null, "since must be a duration like 2h or an ISO date")
    .optional(),
  state: z.enum(["partial", "failed"]).optional(),
  ids: z.array(z.string()).max(10_000).optional(),
  includePermanent: z.boolean().optional(),
});

export const pausedSchema = z.object({ paused: z.boolean() });
export const cancelAnswerSchema = z.object({ id: mailIdSchema, state: z.literal("cancelled") });
export const retryAnswerSchema = z.object({
  count: z.number().int(),
  ids: z.array(mailIdSchema).meta({ description: "The mails requeued" }),
  results: z.array(
    z.union([
      z.object({ id: z.string(), requeued: z.literal(true), recipients: z.array(z.string()) }),
      z.object({
        id: z.string(),
        requeued: z.literal(false),
        reason: z.enum([
          "unknown_id",
          "being_sent",
          "cancelled",
          "not_failed",
          "filtered_out",
          "only_permanent",
          "no_failed",
          "refused",
        ]),
        message: z.string(),
      }),
    ]),
  ),
});

export function adminRoute(deps: AppDeps) {
  const { spool, admin } = deps;
  const app = new Hono<AppEnv>();
  app.use(
    "/admin/*",
    adminAccess(() => deps.config.admin.allow),
    requireScope("admin"),
  );
  app.post("/admin/pause", async (c) => {
    await admin.setPaused(true);
    return success(c, pausedSchema, { paused: true });
  });
  app.post("/admin/resume", async (c) => {
    await admin.setPaused(false);
    return success(c, pausedSchema, { paused: false });
  });
  app.post("/admin/cancel/:id", async (c) => {
    const id = c.req.param("id");
    await admin.delivery.cancel(id, `admin API (${c.get("client").tokenName ?? c.get("client").ip})`);
    return success(c, cancelAnswerSchema, { id, state: "cancelled" });
  });
  app.post("/admin/retry-failed", async (c) => {
    const text = await c.req.text();
    let body: unknown = {};
    try {
      body = text.trim() ? JSON.parse(text) : {};
    } catch {
      throw new MailspoolError("invalid_param", undefined, { errors: [{ field: "body", message: "malformed JSON" }] });
    }
    const parsed = retryFilterSchema.safeParse(body);
    if (!parsed.success) throw new MailspoolError("invalid_param", undefined, { errors: fieldErrors(parsed.error) });
    const { since, ...filters } = parsed.data;
    const results = await retryFailed(
      spool.index,
      (id, recipients) => admin.delivery.replay(id, { recipients, reason: "admin retry-failed" }),
      { ...filters, since: since ? parseSince(since)!.toISOString() : undefined },
    );
    const ids = results.filter((r) => r.requeued).map((r) => r.id);
    return success(c, retryAnswerSchema, { count: ids.length, ids, results });
  });
  return app;
}
