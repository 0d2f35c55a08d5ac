// GET /api/email?state=&since=&recipient=&tag=&limit=: the send records, newest first; every filter
// (and a token's own-mails scope) applies before the limit.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { parseAddress } from "../../address.js";
import { parseSince } from "../../duration.js";
import { MailspoolError } from "../../errors.js";
import { mailStates } from "../../types.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { success } from "../envelope.js";
import { requireScope, visibleMails } from "../token-scopes.js";
import { isoTimeSchema, mailIdSchema } from "../api-schemas.js";
import { mailStateSchema } from "./status.js";

/** The list's filters (the console's mail list takes the same). */
export const listQuerySchema = z.object({
  state: z.enum(mailStates as [string, ...string[]]).optional(),
  since: z
    .string()
    .refine((v) => parseSince(v) !== null, "since must be a duration like 2h or an ISO date")
    .optional(),
  recipient: z
    .string()
    .transform((value, ctx) => {
      const parsed = parseAddress(value);
      if (parsed.ok) return parsed.address;
      ctx.addIssue({ code: "custom", message: `recipient must be a mail address: ${parsed.reason}` });
      return z.NEVER;
    })
    .optional(),
  tag: z.string().min(1).max(64).optional(),
  before: z
    .string()
    .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "before must be a mail id (the `next` of the previous page)")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});

export const listAnswerSchema = z.object({
  next: mailIdSchema.nullable().meta({ description: "Pass as `before` for the next page; null on the last" }),
  items: z.array(
    z.object({
      id: mailIdSchema,
      state: mailStateSchema,
      subject: z.string(),
      acceptedAt: isoTimeSchema,
      recipients: z.number().int(),
      attempts: z.number().int(),
      nextAttemptAt: isoTimeSchema.nullable().meta({ description: "The next try, or a scheduled mail's send_at" }),
      tags: z.array(z.string()),
    }),
  ),
});

export function recordsRoute({ spool }: AppDeps) {
  return new Hono<AppEnv>().get(
    "/api/email",
    requireScope("read"),
    zValidator("query", listQuerySchema, (result) => {
      if (!result.success) {
        throw new MailspoolError("invalid_param", undefined, {
          errors: result.error.issues.map((i) => ({ field: String(i.path[0] ?? "query"), message: i.message })),
        });
      }
    }),
    (c) => {
      const query = c.req.valid("query");
      const entries = visibleMails(c, (q) => spool.index.list(q), {
        state: query.state as never,
        since: query.since ? (parseSince(query.since) ?? undefined) : undefined,
        recipient: query.recipient,
        tag: query.tag,
        before: query.before,
        limit: query.limit,
      });
      return success(c, listAnswerSchema, {
        next: entries.length === query.limit ? entries.at(-1)!.id : null,
        items: entries.map((e) => ({
          id: e.id,
          state: e.state,
          subject: e.subject,
          acceptedAt: e.acceptedAt,
          recipients: e.recipients.length,
          attempts: e.attempts.length,
          nextAttemptAt: e.nextAttemptAt ?? null,
          tags: e.tags ?? [],
        })),
      });
    },
  );
}
