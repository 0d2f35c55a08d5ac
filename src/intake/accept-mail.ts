// The one path from a parsed send request to a durable accepted record, shared by HTTP,
// (later) SMTP and pickup: validate everything first, then store blobs, then append.
// On any failure the uncommitted temp files are removed.
import { ulid } from "ulid";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { buildMail, validateSendFields, type MailPolicy } from "./build-mail.js";
import { discardFiles, storeFiles } from "./incoming-file.js";
import { attachmentErrors } from "./mail-schema.js";
import type { SendInput } from "./send-request.js";

export async function acceptMail(spool: Spool, policy: MailPolicy, input: SendInput, client: string, idempotency?: { key: string; requestHash?: string }): Promise<MailId> {
  try {
    const fileErrors = input.files.flatMap((f, i) => attachmentErrors(i, f.filename, f.contentType));
    const { fields, recipients } = validateSendFields(input.fields, policy, fileErrors);
    spool.checkCapacity();
    const attachments = await storeFiles(input.files, spool.blobs);
    const id = ulid();
    await spool.accept(id, buildMail(id, fields, recipients, attachments, policy), client, idempotency);
    return id;
  } catch (error) {
    await discardFiles(input.files);
    throw error;
  }
}
