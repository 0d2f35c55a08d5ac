// What an operator (admin API, pickup file, replay/cancel CLI through pickup, rescan job)
// can do to a mail. Each action is one spool record; the index and queue follow it.
import { canonicalOrSelf } from "../address.js";
import { MailspoolError } from "../errors.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";

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
  const entry = spool.index.get(id);
  if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
  if (entry.state === "sending") throw new MailspoolError("conflict", `mail ${id} is being sent right now`);
  if (entry.state === "cancelled") throw new MailspoolError("conflict", `mail ${id} is cancelled, which is final`);
  // named recipients are compared in canonical form: `Bob@EXAMPLE.com` names bob@example.com's entry
  const known = new Map(entry.recipients.map((r) => [canonicalOrSelf(r.address), r.address]));
  const unknown = options.recipients?.filter((r) => !known.has(canonicalOrSelf(r))) ?? [];
  if (unknown.length)
    throw new MailspoolError("invalid_param", undefined, {
      errors: [{ field: "recipients", message: `not recipients of ${id}: ${unknown.join(", ")}` }],
    });
  const named = options.recipients?.map((r) => known.get(canonicalOrSelf(r))!);
  const recipients = named
    ? [...new Set(named)]
    : entry.recipients.filter((r) => r.state !== "sent").map((r) => r.address);
  if (recipients.length === 0) throw new MailspoolError("conflict", `mail ${id} has no recipient left to send to`);
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

const cancellable = new Set(["queued", "deferred", "partial", "failed"]);

export async function cancelMail(
  spool: Spool,
  id: MailId,
  reason: string,
  idempotencyKey?: string,
  requestHash?: string,
): Promise<void> {
  const entry = spool.index.get(id);
  if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
  if (entry.state === "cancelled") return;
  if (!cancellable.has(entry.state))
    throw new MailspoolError("conflict", `mail ${id} is ${entry.state} and cannot be cancelled`);
  await spool.append({
    type: "cancel",
    id,
    reason,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(requestHash ? { requestHash } : {}),
  });
}
