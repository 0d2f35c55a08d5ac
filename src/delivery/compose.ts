// Builds the MIME message once per mail with nodemailer's MailComposer, from our own
// stored bytes only: file and URL access are disabled and no path/href/raw is passed.
// The compiled tree is written out without streams (mime-build.ts), same bytes as build().
// The same record always makes the same bytes (Date and Message-ID are recorded, the
// multipart boundaries come from the mail id), so a mail composed again after a restart
// is the message, and the DKIM signature, every earlier attempt sent.
import { createHash } from "node:crypto";
import MailComposer from "nodemailer/lib/mail-composer/index.js";
import type { AcceptedRecord } from "../spool/record.js";
import type { BlobStore } from "../spool/blobs.js";
import type { AttachmentRef } from "../types.js";
import { buildMimeSync } from "./mime-build.js";
import { htmlToText } from "./text-alternative.js";

/** An attachment's bytes: stored inline (base64) or in blobs/. */
export async function attachmentContent(attachment: AttachmentRef, blobs: BlobStore): Promise<Buffer> {
  return attachment.inline !== undefined ? Buffer.from(attachment.inline, "base64") : blobs.read(attachment.sha256);
}

/** What MailComposer would draw at random: as unguessable to a sender, since the id is made after the content is in. */
const baseBoundaryOf = (id: string) => createHash("sha256").update(id).digest("hex").slice(0, 16);

export async function composeMessage(record: AcceptedRecord, from: string, blobs: BlobStore): Promise<Buffer> {
  const { mail } = record;
  if (mail.raw) return blobs.read(mail.raw.sha256);
  const attachments = await Promise.all(
    mail.attachments.map(async (a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: await attachmentContent(a, blobs),
      contentDisposition: "attachment" as const,
    })),
  );
  const composer = new MailComposer({
    from: mail.fromName ? { name: mail.fromName, address: from } : from,
    to: mail.to,
    cc: mail.cc.length ? mail.cc : undefined,
    replyTo: mail.replyTo,
    subject: mail.subject,
    html: mail.html,
    text: mail.text ?? htmlToText(mail.html),
    attachments,
    messageId: mail.messageId,
    // the sender's extra headers, allowlisted and checked at intake (mail-extras.ts)
    headers: mail.headers,
    date: new Date(record.ts),
    baseBoundary: baseBoundaryOf(record.id),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const root = composer.compile();
  return buildMimeSync(root) ?? root.build();
}
