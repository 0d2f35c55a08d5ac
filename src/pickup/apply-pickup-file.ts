// What a pickup file asks for (pickup-request.ts), carried out: a replay or a cancel through
// the admin API's actions, a new mail through intake's one accept path. The file name is the
// idempotency key.
import type { Intake } from "../intake/intake.js";
import { sendInputFromMembers } from "../intake/send-request.js";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import { pickupRequestOf } from "./pickup-request.js";

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
  const request = pickupRequestOf(members);
  const reason = `pickup ${name}`;
  if (request.kind === "replay") {
    const { id, recipients } = request;
    const sendTo = await actions.replay(id, { recipients, reason, idempotencyKey: key });
    log.info({ file: name, mailId: id, recipients: sendTo.length }, "pickup: mail replayed");
  } else if (request.kind === "cancel") {
    await actions.cancel(request.id, reason, key);
    log.info({ file: name, mailId: request.id }, "pickup: mail cancelled");
  } else {
    const input = await sendInputFromMembers(members, intake.limits, intake.blobs);
    const id = await intake.acceptParsed(input, "pickup", { idempotency: { key }, exemptFromQuota: true });
    log.info({ file: name, mailId: id }, "pickup: mail accepted");
  }
}
