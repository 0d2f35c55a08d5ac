// The mail's state after an attempt, from its recipients' states (SPEC "Mail states").
import type { MailState, RecipientState } from "../types.js";

export function mailStateAfterAttempt(
  recipients: readonly { state: RecipientState }[],
  attempt: number,
  maxAttempts: number,
): MailState {
  const open = recipients.filter((r) => r.state === "pending" || r.state === "deferred").length;
  if (open > 0 && attempt < maxAttempts) return "deferred";
  const sent = recipients.filter((r) => r.state === "sent").length;
  if (sent === recipients.length) return "sent";
  return sent > 0 ? "partial" : "failed";
}
