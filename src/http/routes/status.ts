// GET /api/email/:id: the mail's state, its recipients (with display names) and their
// states, its attachments (name, type, size, sha256; read from the accepted record, never
// the bytes), its attempts, and its send_at, tags and metadata (from the accepted record).
import { Hono } from "hono";
import { z } from "zod";
import { MailspoolError } from "../../errors.js";
import type { MailEntry } from "../../spool/mail-index.js";
import { mailStates, type Mail, type MailState } from "../../types.js";
import { isoTimeSchema, mailIdSchema } from "../api-schemas.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { success } from "../envelope.js";
import { requireScope, visibleMail } from "../token-scopes.js";

export const mailStateSchema = z.enum(mailStates as [MailState, ...MailState[]]);

const attemptSchema = z.object({
  attempt: z.number().int(),
  startedAt: isoTimeSchema,
  endedAt: isoTimeSchema.optional(),
  state: mailStateSchema.optional(),
  nextAttemptAt: isoTimeSchema.optional(),
  error: z.string().optional(),
  transactions: z.array(
    z.object({
      upstream: z.string(),
      envelope: z.object({ from: z.string(), to: z.array(z.string()) }),
      code: z.number().int(),
      response: z.string(),
    }),
  ),
});

export const mailStatusSchema = z.object({
  id: mailIdSchema,
  state: mailStateSchema,
  subject: z.string(),
  acceptedAt: isoTimeSchema,
  nextAttemptAt: isoTimeSchema.nullable(),
  sendAt: z.string().nullable().meta({ description: "When a scheduled mail is due (as sent, RFC 3339)" }),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  recipients: z.array(
    z.object({
      address: z.string(),
      name: z.string().nullable(),
      kind: z.enum(["to", "cc", "bcc"]),
      state: z.enum(["pending", "sent", "deferred", "failed-transient", "failed-permanent"]),
      lastError: z.string().nullable(),
    }),
  ),
  attachments: z.array(
    z.object({ filename: z.string(), contentType: z.string(), size: z.number().int(), sha256: z.string() }),
  ),
  attempts: z.array(attemptSchema),
  template: z.string().nullable().meta({ description: "The template the mail was rendered from" }),
});

/** What a mail's status (and an event about it) says of it beyond its entry: read from the accepted record. */
export type StatusMail = Pick<Mail, "attachments" | "template" | "sendAt" | "tags" | "metadata">;

export function mailStatus(entry: MailEntry, mail: StatusMail): z.infer<typeof mailStatusSchema> {
  return {
    id: entry.id,
    state: entry.state,
    subject: entry.subject,
    acceptedAt: entry.acceptedAt,
    nextAttemptAt: entry.nextAttemptAt ?? null,
    sendAt: mail.sendAt ?? null,
    tags: mail.tags ?? [],
    metadata: mail.metadata ?? {},
    recipients: entry.recipients.map((r) => ({
      address: r.address,
      name: r.name ?? null,
      kind: r.kind,
      state: r.state,
      lastError: r.lastError ?? null,
    })),
    attachments: mail.attachments.map(({ filename, contentType, size, sha256 }) => ({
      filename,
      contentType,
      size,
      sha256,
    })),
    attempts: entry.attempts,
    template: mail.template ?? null,
  };
}

export function statusRoute({ spool }: AppDeps) {
  return new Hono<AppEnv>().get("/api/email/:id", requireScope("read"), async (c) => {
    const id = c.req.param("id");
    const entry = visibleMail(c, spool.index.get(id));
    if (!entry) throw new MailspoolError("not_found", "No such mail");
    return success(c, mailStatusSchema, mailStatus(entry, (await spool.readAccepted(id, entry)).mail));
  });
}
