// GET /api/email/:id: the mail's state, its recipients (with display names) and their
// states, its attachments (name, type, size, sha256; read from the accepted record, never
// the bytes), its attempts, and its send_at, tags and metadata (from the accepted record).
import { Hono } from "hono";
import { MailspoolError } from "../../errors.js";
import type { MailEntry } from "../../spool/mail-index.js";
import type { Mail } from "../../types.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { success } from "../envelope.js";
import { requireScope, visibleMail } from "../token-scopes.js";

/** What a mail's status (and an event about it) says of it beyond its entry: read from the accepted record. */
export type StatusMail = Pick<Mail, "attachments" | "template" | "sendAt" | "tags" | "metadata">;

export function mailStatus(entry: MailEntry, mail: StatusMail) {
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
    return success(c, mailStatus(entry, (await spool.readAccepted(id, entry)).mail));
  });
}
