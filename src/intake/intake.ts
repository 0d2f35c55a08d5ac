// The one accept path of every way in (HTTP, SMTP, pickup): one validation, one canonical
// address form, one set of limits. A mail is durable (blobs fsync'd, record fdatasync'd)
// before accept returns, then handed to delivery through onAccepted. On any failure the
// uncommitted temp files are removed.
import { newUlid as ulid } from "../ids.js";
import type { Spool } from "../spool/spool.js";
import type { BlobStore, BlobWriter } from "../spool/blobs.js";
import type { MailId } from "../types.js";
import { validateEnvelope } from "./addresses.js";
import { buildMail, messageIdFor, validateSendFields, type MailPolicy } from "./build-mail.js";
import type { FormLimits } from "./form-parser.js";
import { discardFiles, storeFiles } from "./incoming-file.js";
import { attachmentErrors } from "./mail-schema.js";
import type { SendInput } from "./send-request.js";
import { applyTemplate } from "./template-fields.js";
import type { TemplateSet } from "../templates/template-set.js";

export interface IntakeSettings extends MailPolicy {
  limits: FormLimits;
  templates: TemplateSet | null;
}

export interface IntakeOptions {
  spool: Spool;
  /** Read per mail: SIGHUP may change them. */
  settings: () => IntakeSettings;
  quotas: { check(client: string): void };
  onAccepted(id: MailId): void;
}

export interface AcceptOptions {
  idempotency?: { key: string; requestHash?: string };
  /** Pickup files are the operator's: no quota applies. */
  exemptFromQuota?: boolean;
}

/** A raw message (SMTP DATA) in an uncommitted blob, with what was read from its header. */
export interface RawMessage {
  id: MailId;
  blob: BlobWriter;
  subject: string;
  messageId: string;
}

export class Intake {
  constructor(private readonly options: IntakeOptions) {}

  get limits(): FormLimits {
    return this.options.settings().limits;
  }

  /** Where uploads and raw messages spill while they arrive (uncommitted until accepted). */
  get blobs(): BlobStore {
    return this.options.spool.blobs;
  }

  /** A new mail id and the Message-ID a raw message without one gets. */
  newMail(): { id: MailId; messageId: string } {
    const id = ulid();
    return { id, messageId: messageIdFor(id, this.options.settings().from) };
  }

  /** Throws 429 when one more mail from this client would exceed a quota. */
  checkQuota(client: string): void {
    this.options.quotas.check(client);
  }

  /** A parsed send request: HTTP (multipart, form, JSON) or a pickup file. */
  async acceptParsed(input: SendInput, client: string, options: AcceptOptions = {}): Promise<MailId> {
    const { spool } = this.options;
    const settings = this.options.settings();
    let id: MailId;
    try {
      const fileErrors = input.files.flatMap((f, i) => attachmentErrors(i, f.filename, f.contentType));
      const templated = applyTemplate(input.fields, settings.templates, settings.limits.maxBodyBytes);
      const { fields, recipients, extras } = validateSendFields(templated.fields, settings, fileErrors);
      if (!options.exemptFromQuota) this.checkQuota(client);
      spool.checkCapacity();
      const attachments = await storeFiles(input.files, spool.blobs);
      id = ulid();
      const mail = buildMail(id, fields, recipients, attachments, settings, extras);
      if (templated.template) mail.template = templated.template;
      await spool.accept(id, mail, client, options.idempotency);
    } catch (error) {
      await discardFiles(input.files);
      throw error;
    }
    this.options.onAccepted(id);
    return id;
  }

  /** A raw message relayed as-is (SMTP): its envelope recipients get the same checks as any other. */
  async acceptRaw(message: RawMessage, envelope: { from?: string; to: string[] }, client: string): Promise<MailId> {
    const { spool } = this.options;
    try {
      const { to, from } = validateEnvelope(envelope, this.options.settings().maxRecipients);
      this.checkQuota(client);
      spool.checkCapacity();
      const raw = await message.blob.commit();
      await spool.blobs.syncDir();
      const mail = {
        subject: message.subject,
        html: "",
        to,
        cc: [],
        bcc: [],
        attachments: [],
        messageId: message.messageId,
        raw,
      };
      await spool.accept(message.id, from ? { ...mail, envelopeFrom: from } : mail, client);
    } catch (error) {
      await message.blob.discard();
      throw error;
    }
    this.options.onAccepted(message.id);
    return message.id;
  }
}
