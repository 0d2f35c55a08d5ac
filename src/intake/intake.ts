// The one accept path of every way in (HTTP, SMTP, pickup): one validation, one canonical
// address form, one set of limits. A mail is durable (blobs fsync'd, record fdatasync'd)
// before accept returns, then handed to delivery through onAccepted. On any failure the
// uncommitted temp files are removed.
import { MailspoolError, type FieldError } from "../errors.js";
import { newUlid as ulid } from "../ids.js";
import type { AcceptedMail, Spool } from "../spool/spool.js";
import type { BlobStore, BlobWriter } from "../spool/blobs.js";
import type { AttachmentRef, Mail, MailId } from "../types.js";
import { validateEnvelope } from "./addresses.js";
import { elementErrors, type BatchElement } from "./batch-request.js";
import { buildMail, messageIdFor, validateSendFields, type MailPolicy } from "./build-mail.js";
import type { FormLimits } from "./form-parser.js";
import { discardFiles, storeFiles, type IncomingFile } from "./incoming-file.js";
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
  quotas: { check(client: string, count?: number): void };
  /** Cluster mode: why no mail can be taken now (the broker is gone), or null; checked before anything is written. */
  refusal?: () => string | null;
  /** Cluster mode: the most a mail may weigh as one journal message (its record and attachments), the broker's limit. */
  maxMailBytes?: () => number;
  /** The mails (one, or a batch's) are durable here; in cluster mode the answer also waits for the broker's confirms (a rejection → 503 for all). */
  onAccepted(ids: MailId[]): void | Promise<void>;
}

export interface AcceptOptions {
  idempotency?: { key: string; requestHash?: string };
  /** Pickup files are the operator's: no quota applies. */
  exemptFromQuota?: boolean;
}

/** A mail of a batch that passed validation. */
export interface ValidMail extends ReturnType<typeof validateInput> {
  input: SendInput;
}

/** One mail of a batch to store, with its own idempotency key. */
export interface BatchItem {
  mail: ValidMail;
  idempotency?: { key: string; requestHash: string };
}

/** A raw message (SMTP DATA) in an uncommitted blob, with what was read from its header. */
export interface RawMessage {
  id: MailId;
  blob: BlobWriter;
  subject: string;
  messageId: string;
}

/** A send request's fields with its template (if any) rendered, validated; throws the 400. */
function validateInput(input: SendInput, settings: IntakeSettings) {
  const fileErrors = input.files.flatMap((f, i) => attachmentErrors(i, f.filename, f.contentType));
  const templated = applyTemplate(input.fields, settings.templates, settings.limits.maxBodyBytes);
  return { ...validateSendFields(templated.fields, settings, fileErrors), template: templated.template };
}

function mailOf(
  id: MailId,
  valid: ReturnType<typeof validateInput>,
  attachments: AttachmentRef[],
  settings: IntakeSettings,
) {
  const mail = buildMail(id, valid.fields, valid.recipients, attachments, settings, valid.extras);
  if (valid.template) mail.template = valid.template;
  return mail;
}

/**
 * About what a mail weighs as one journal message: its record (a margin for the envelope) and
 * the blobs beside it. `mail` without its attachments yet: they are weighed from the uploads,
 * before anything is stored (inline ones as base64 in the record, the others as blobs).
 */
function journalBytes(mail: Mail, files: IncomingFile[], raw = 0): number {
  let bytes = Buffer.byteLength(JSON.stringify(mail)) + 4096 + raw;
  for (const file of files)
    bytes +=
      256 +
      Buffer.byteLength(file.filename + file.contentType) +
      (file.blob ? file.size : 4 * Math.ceil(file.size / 3));
  return bytes;
}

export class Intake {
  constructor(private readonly options: IntakeOptions) {}

  /** Throws 413 when the mail could not travel to the other hosts in one broker message (nothing is written yet). */
  private checkJournalSize(mail: Mail, files: IncomingFile[], raw = 0, at = ""): void {
    const limit = this.options.maxMailBytes?.();
    if (limit === undefined) return;
    const bytes = journalBytes(mail, files, raw);
    if (bytes <= limit) return;
    const message = `the mail with its attachments is about ${bytes} bytes; the broker takes at most ${limit} (broker.maxMessageBytes)`;
    const which = at ? ` ${at.slice(0, -1)}` : "";
    throw new MailspoolError("too_large", `Mail${which} too large for the cluster: ${message}`, {
      errors: [{ field: `${at}${raw ? "message" : files.length ? "attachment" : "content"}`, message }],
    });
  }

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

  /** Throws 503 when the cluster cannot take mail now (nothing is written). */
  private checkOpen(): void {
    const refusal = this.options.refusal?.();
    if (refusal) throw new MailspoolError("unavailable", `Cannot take mail: ${refusal}`);
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
      this.checkOpen();
      const valid = validateInput(input, settings);
      if (!options.exemptFromQuota) this.checkQuota(client);
      spool.checkCapacity();
      id = ulid();
      const mail = mailOf(id, valid, [], settings);
      this.checkJournalSize(mail, input.files);
      mail.attachments = await storeFiles(input.files, spool.blobs);
      await spool.accept(id, mail, client, options.idempotency);
    } catch (error) {
      await discardFiles(input.files);
      throw error;
    }
    await this.options.onAccepted([id]);
    return id;
  }

  /** A batch's elements, all valid, or a 400 listing every problem of every element (`[i].field`). */
  validateBatch(elements: BatchElement[]): ValidMail[] {
    const settings = this.options.settings();
    const errors: FieldError[] = [];
    const valid = elements.map((element, at) => {
      try {
        if ("errors" in element) throw new MailspoolError("invalid_param", undefined, { errors: element.errors });
        return { input: element.input, ...validateInput(element.input, settings) };
      } catch (error) {
        if (!(error instanceof MailspoolError && error.errors)) throw error;
        errors.push(...elementErrors(at, error.errors));
        return null;
      }
    });
    if (errors.length) throw new MailspoolError("invalid_param", undefined, { errors });
    return valid as ValidMail[];
  }

  /**
   * Validated mails of a batch (HTTP), all or none: the quota must hold them all, and their
   * records go to the spool in one commit. Ids in the order given. The caller releases the
   * files when this throws.
   */
  async acceptBatch(mails: BatchItem[], client: string): Promise<MailId[]> {
    const { spool } = this.options;
    const settings = this.options.settings();
    this.checkOpen();
    this.options.quotas.check(client, mails.length);
    spool.checkCapacity();
    const records: AcceptedMail[] = mails.map(({ mail, idempotency }, at) => {
      const id = ulid();
      const built = mailOf(id, mail, [], settings);
      this.checkJournalSize(built, mail.input.files, 0, `[${at}].`);
      return { id, mail: built, idempotency };
    });
    // every blob of the batch made durable with one directory fsync
    const refs = await storeFiles(
      mails.flatMap(({ mail }) => mail.input.files),
      spool.blobs,
    );
    let next = 0;
    for (const [at, { mail }] of mails.entries())
      records[at]!.mail.attachments = refs.slice(next, (next += mail.input.files.length));
    await spool.acceptMany(records, client);
    await this.options.onAccepted(records.map(({ id }) => id));
    return records.map(({ id }) => id);
  }

  /** A raw message relayed as-is (SMTP): its envelope recipients get the same checks as any other. */
  async acceptRaw(message: RawMessage, envelope: { from?: string; to: string[] }, client: string): Promise<MailId> {
    const { spool } = this.options;
    try {
      this.checkOpen();
      const { to, from } = validateEnvelope(envelope, this.options.settings().maxRecipients);
      this.checkQuota(client);
      spool.checkCapacity();
      const mail: Mail = {
        subject: message.subject,
        html: "",
        to,
        cc: [],
        bcc: [],
        attachments: [],
        messageId: message.messageId,
      };
      this.checkJournalSize(mail, [], message.blob.end().size);
      mail.raw = await message.blob.commit();
      await spool.blobs.syncDir();
      await spool.accept(message.id, from ? { ...mail, envelopeFrom: from } : mail, client);
    } catch (error) {
      await message.blob.discard();
      throw error;
    }
    await this.options.onAccepted([message.id]);
    return message.id;
  }
}
