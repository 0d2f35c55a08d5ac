// Validated fields + stored attachments → the Mail that the accepted record holds.
import { MailspoolError, type FieldError } from "../errors.js";
import type { AttachmentRef, Mail, MailId } from "../types.js";
import { dedupeRecipients, parseAddressList, withNames } from "./addresses.js";
import { readMailExtras, type MailExtras, type SchedulePolicy } from "./mail-extras.js";
import { fieldErrors, sendFieldsSchema, type SendFields } from "./mail-schema.js";

export interface MailPolicy extends SchedulePolicy {
  from: string;
  maxRecipients: number;
}

export type MailRecipients = Pick<Mail, "to" | "cc" | "bcc" | "replyTo">;

/** Validates the send fields; throws a 400 listing every problem. */
export function validateSendFields(
  input: Record<string, unknown>,
  policy: MailPolicy,
  extraErrors: FieldError[] = [],
): { fields: SendFields; recipients: MailRecipients; extras: MailExtras } {
  const parsed = sendFieldsSchema.safeParse(input);
  const errors = [...extraErrors];
  if (!parsed.success)
    throw new MailspoolError("invalid_param", undefined, { errors: [...fieldErrors(parsed.error), ...errors] });
  const fields = parsed.data;
  const to = withNames(
    "receiver_name",
    parseAddressList("receiver", fields.receiver, errors),
    fields.receiver_name,
    errors,
  );
  const [toList, cc, bcc] = dedupeRecipients([
    to,
    parseAddressList("cc", fields.cc, errors).map((address) => ({ address })),
    parseAddressList("bcc", fields.bcc, errors).map((address) => ({ address })),
  ]) as [Mail["to"], Mail["cc"], Mail["bcc"]];
  if (toList.length === 0 && !errors.some((e) => e.field === "receiver"))
    errors.push({ field: "receiver", message: "receiver is required" });
  const total = toList.length + cc.length + bcc.length;
  if (total > policy.maxRecipients)
    errors.push({
      field: "receiver",
      message: `too many recipients: ${total} (at most ${policy.maxRecipients} over receiver, cc and bcc)`,
    });
  const replyTo = parseAddressList("reply_to", fields.reply_to, errors);
  if (replyTo.length > 1) errors.push({ field: "reply_to", message: "only one reply_to address is allowed" });
  const extras = readMailExtras(fields, policy, errors);
  if (errors.length) throw new MailspoolError("invalid_param", undefined, { errors });
  const recipients = { to: toList, cc, bcc, replyTo: replyTo[0] ? { address: replyTo[0] } : undefined };
  return { fields, recipients, extras };
}

/** `<id>@<domain of delivery.from>`: a replay keeps it, so a downstream duplicate is recognisable. */
export function messageIdFor(id: MailId, from: string): string {
  return `<${id}@${from.split("@").pop() || "localhost"}>`;
}

export function buildMail(
  id: MailId,
  fields: SendFields,
  recipients: MailRecipients,
  attachments: AttachmentRef[],
  policy: MailPolicy,
  extras: MailExtras = {},
): Mail {
  const mail: Mail = {
    subject: fields.title,
    html: fields.content,
    to: recipients.to,
    cc: recipients.cc,
    bcc: recipients.bcc,
    attachments,
    messageId: messageIdFor(id, policy.from),
  };
  if (fields.text !== undefined) mail.text = fields.text;
  if (fields.sender_name) mail.fromName = fields.sender_name;
  if (recipients.replyTo) mail.replyTo = recipients.replyTo;
  return { ...mail, ...extras };
}
