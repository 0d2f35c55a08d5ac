// Re-driving the failed spool (POST /admin/retry-failed): each chosen mail is put back in
// the queue, and the answer says per mail what happened — requeued, with the recipients
// it will be sent to, or why not. Named ids are answered one by one, in the order given
// (a repeated id once); without ids, every mail in the failed spool that passes the filters.
import { MailspoolError } from "../errors.js";
import { failedRecipients, type NoFailedRecipient } from "./action-rules.js";
import type { MailIndex } from "../spool/mail-index.js";
import type { MailId, MailState } from "../types.js";

export type RetryRefusal =
  "unknown_id" | "being_sent" | "cancelled" | "not_failed" | "filtered_out" | NoFailedRecipient["reason"] | "refused";

export type RetryOutcome =
  | { id: MailId; requeued: true; recipients: string[] }
  | { id: MailId; requeued: false; reason: RetryRefusal; message: string };

export interface RetryRequest {
  /** Only these mails; default every mail in the failed spool that passes the filters. */
  ids?: string[];
  /** Accepted at or after this ISO time. */
  since?: string;
  /** partial or failed; default both. */
  state?: "partial" | "failed";
  /** Also the failed-permanent recipients (default: the failed-transient ones, as the rescan). */
  includePermanent?: boolean;
}

const failedStates: readonly MailState[] = ["partial", "failed"];

export async function retryFailed(
  index: MailIndex,
  replay: (id: MailId, recipients: string[]) => Promise<string[]>,
  request: RetryRequest,
): Promise<RetryOutcome[]> {
  const since = request.since ?? "";
  const ids = request.ids
    ? [...new Set(request.ids)]
    : index
        .inStates(request.state ? [request.state] : failedStates)
        .filter((entry) => entry.acceptedAt >= since)
        .map((entry) => entry.id);
  const outcomes: RetryOutcome[] = [];
  for (const id of ids) {
    const refusal = whyNot(index, id, request);
    if (refusal) {
      outcomes.push({ id, requeued: false, ...refusal });
      continue;
    }
    const recipients = failedRecipients(index.get(id)!, request.includePermanent === true);
    if (!Array.isArray(recipients)) {
      const hint = recipients.reason === "only_permanent" ? '; send "includePermanent": true to take them too' : "";
      outcomes.push({ id, requeued: false, reason: recipients.reason, message: `mail ${recipients.message}${hint}` });
      continue;
    }
    outcomes.push(await requeue(id, () => replay(id, recipients)));
  }
  return outcomes;
}

function whyNot(
  index: MailIndex,
  id: MailId,
  { since, state }: RetryRequest,
): { reason: RetryRefusal; message: string } | null {
  const entry = index.get(id);
  if (!entry) return { reason: "unknown_id", message: "no such mail in the live spool (unknown id, or archived)" };
  if (entry.state === "sending") return { reason: "being_sent", message: "mail is being sent right now" };
  if (entry.state === "cancelled") return { reason: "cancelled", message: "mail is cancelled, which is final" };
  if (!failedStates.includes(entry.state))
    return { reason: "not_failed", message: `mail is ${entry.state}, not in the failed spool` };
  if (state && entry.state !== state)
    return { reason: "filtered_out", message: `mail is ${entry.state}, not ${state} (the state filter)` };
  if (since && entry.acceptedAt < since)
    return { reason: "filtered_out", message: `mail was accepted at ${entry.acceptedAt}, before ${since} (since)` };
  return null;
}

/** A refusal raised by the replay itself (the mail changed meanwhile) is an answer; an I/O error is not. */
async function requeue(id: MailId, replay: () => Promise<string[]>): Promise<RetryOutcome> {
  try {
    return { id, requeued: true, recipients: await replay() };
  } catch (error) {
    if (!(error instanceof MailspoolError) || error.status >= 500) throw error;
    return { id, requeued: false, reason: "refused", message: error.message };
  }
}
