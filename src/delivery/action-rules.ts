// Whether a replay or a cancel may be done to a mail, decided from its index entry alone:
// pure, so the server's actions (mail-actions.ts) and the CLI's read-only pre-check ask the
// very same question and cannot drift apart. Each refusal is a MailspoolError with its reason.
import { canonicalOrSelf } from "../address.js";
import { errorTable, MailspoolError } from "../errors.js";
import type { MailEntry } from "../spool/mail-index.js";
import type { MailId, MailState, RecipientState } from "../types.js";

/** States a cancel stops for good (SPEC: scheduled, queued, deferred, and the failed spool's partial/failed). */
export const cancellableStates: readonly MailState[] = ["scheduled", "queued", "deferred", "partial", "failed"];

/**
 * The recipients a replay sends to: the named ones (any spelling, matched in canonical form)
 * or, by default, every recipient not yet sent. Throws when the mail cannot be replayed.
 */
export function replayRecipients(entry: MailEntry | undefined, id: MailId, named?: string[]): string[] {
  if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
  if (entry.state === "sending") throw new MailspoolError("conflict", `mail ${id} is being sent right now`);
  if (entry.state === "cancelled") throw new MailspoolError("conflict", `mail ${id} is cancelled, which is final`);
  if (entry.state === "scheduled")
    throw new MailspoolError(
      "conflict",
      `mail ${id} is scheduled for ${entry.nextAttemptAt}: it has not been sent yet`,
    );
  const known = new Map(entry.recipients.map((r) => [canonicalOrSelf(r.address), r.address]));
  const unknown = named?.filter((r) => !known.has(canonicalOrSelf(r))) ?? [];
  if (unknown.length)
    throw new MailspoolError("invalid_param", undefined, {
      errors: [{ field: "recipients", message: `not recipients of ${id}: ${unknown.join(", ")}` }],
    });
  if (named) return [...new Set(named.map((r) => known.get(canonicalOrSelf(r))!))];
  const unsent = entry.recipients.filter((r) => r.state !== "sent").map((r) => r.address);
  if (unsent.length === 0)
    throw new MailspoolError(
      "conflict",
      `mail ${id} is ${entry.state}: no recipient is left to send to (name recipients to send it to them again)`,
    );
  return unsent;
}

/** Why a re-drive of the failed spool has no recipient to send a mail to. */
export interface NoFailedRecipient {
  reason: "only_permanent" | "no_failed";
  message: string;
}

/**
 * The recipients a re-drive of the failed spool sends to (replay --failed, POST
 * /admin/retry-failed): the failed-transient ones, as the rescan takes them, and the
 * failed-permanent ones too only when asked.
 */
export function failedRecipients(entry: MailEntry, includePermanent: boolean): string[] | NoFailedRecipient {
  const inStates = (states: RecipientState[]) =>
    entry.recipients.filter((r) => states.includes(r.state)).map((r) => r.address);
  const recipients = inStates(includePermanent ? ["failed-transient", "failed-permanent"] : ["failed-transient"]);
  if (recipients.length) return recipients;
  const permanent = inStates(["failed-permanent"]);
  return permanent.length
    ? { reason: "only_permanent", message: `has only permanently failed recipients (${permanent.join(", ")})` }
    : { reason: "no_failed", message: "has no failed recipient" };
}

/** True when a cancel record is needed, false when the mail is already cancelled; throws when it cannot be cancelled. */
export function cancelNeeded(entry: MailEntry | undefined, id: MailId): boolean {
  if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
  if (entry.state === "cancelled") return false;
  if (!cancellableStates.includes(entry.state))
    throw new MailspoolError("conflict", `mail ${id} is ${entry.state} and cannot be cancelled`);
  return true;
}

/** A refusal as one line: its message (unless it is only the code's generic one) and each field's complaint. */
export function refusalText(error: MailspoolError): string {
  const fields = error.errors?.map((e) => `${e.field}: ${e.message}`) ?? [];
  const generic = fields.length > 0 && error.message === errorTable[error.code].message;
  return [...(generic ? [] : [error.message]), ...fields].join("; ");
}
