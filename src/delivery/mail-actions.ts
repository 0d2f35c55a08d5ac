// What an operator (admin API, pickup file, replay/cancel CLI through pickup, rescan job)
// can do to a mail. Each action is one spool record; the index and queue follow it. Whether
// it may be done is decided by action-rules.ts, which the CLI's pre-check asks too.
import { applyCancel } from "../spool/mail-index.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { cancelNeeded, replayRecipients } from "./action-rules.js";
import type { Webhooks } from "./webhooks.js";

export interface ReplayOptions {
  /** Named recipients; default every recipient not yet sent. */
  recipients?: string[];
  /** Attempts allowed; default retry.attempts. */
  attempts?: number;
  reason: string;
  idempotencyKey?: string;
  /** With idempotencyKey from a pickup file: the sha256 of the file's bytes. */
  requestHash?: string;
}

/** Puts the mail back in the queue; returns the recipients it will be sent to. */
export async function replayMail(
  spool: Spool,
  enqueue: (id: MailId) => void,
  id: MailId,
  options: ReplayOptions,
): Promise<string[]> {
  const recipients = replayRecipients(spool.index.get(id), id, options.recipients);
  await spool.append({
    type: "replay",
    id,
    recipients,
    reason: options.reason,
    ...(options.attempts ? { attempts: options.attempts } : {}),
    ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
    ...(options.requestHash ? { requestHash: options.requestHash } : {}),
  });
  enqueue(id);
  return recipients;
}

/** Resolves true when the mail was cancelled now, false when it already was. */
export async function cancelMail(
  spool: Spool,
  id: MailId,
  reason: string,
  idempotencyKey?: string,
  requestHash?: string,
  events?: Pick<Webhooks, "appendWithEvents">,
): Promise<boolean> {
  const entry = spool.index.get(id);
  if (!cancelNeeded(entry, id)) return false;
  const record = {
    type: "cancel" as const,
    id,
    reason,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(requestHash ? { requestHash } : {}),
  };
  if (events)
    await events.appendWithEvents([record], () => {
      const after = structuredClone(entry!);
      applyCancel(after);
      return after;
    });
  else await spool.append(record);
  return true;
}
