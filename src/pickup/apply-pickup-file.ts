// What a pickup file asks for, carried out: a replay {"replay": id, "recipients"?: [...]}
// or a cancel {"cancel": id} through the admin API's actions, anything else a new mail
// through intake's one accept path. The file name is the idempotency key.
import type { Intake } from "../intake/intake.js";
import { sendInputFromMembers } from "../intake/send-request.js";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";

/** What a replay or cancel file asks of the mail (the admin API's actions). */
export interface PickupActions {
  replay(id: MailId, options: { recipients?: string[]; reason: string; idempotencyKey: string }): Promise<string[]>;
  cancel(id: MailId, reason: string, idempotencyKey: string): Promise<void>;
}

export async function applyPickupFile(
  deps: { intake: Intake; actions: PickupActions; log: Logger },
  name: string,
  key: string,
  members: [string, unknown][],
): Promise<void> {
  const { intake, actions, log } = deps;
  const request = Object.fromEntries(members);
  const reason = `pickup ${name}`;
  if (typeof request.replay === "string") {
    const recipients = Array.isArray(request.recipients) ? request.recipients.map(String) : undefined;
    const sendTo = await actions.replay(request.replay, { recipients, reason, idempotencyKey: key });
    log.info({ file: name, mailId: request.replay, recipients: sendTo.length }, "pickup: mail replayed");
  } else if (typeof request.cancel === "string") {
    await actions.cancel(request.cancel, reason, key);
    log.info({ file: name, mailId: request.cancel }, "pickup: mail cancelled");
  } else {
    const input = await sendInputFromMembers(members, intake.limits, intake.blobs);
    const id = await intake.acceptParsed(input, "pickup", { idempotency: { key }, exemptFromQuota: true });
    log.info({ file: name, mailId: id }, "pickup: mail accepted");
  }
}
