// Domain types shared by intake, spool, delivery and the status API (SPEC "Mail states").

export type MailId = string;

export type RecipientKind = "to" | "cc" | "bcc";
export type RecipientState = "pending" | "sent" | "deferred" | "failed-transient" | "failed-permanent";
export type MailState = "scheduled" | "queued" | "sending" | "deferred" | "sent" | "partial" | "failed" | "cancelled";

export const mailStates: readonly MailState[] = [
  "scheduled",
  "queued",
  "sending",
  "deferred",
  "sent",
  "partial",
  "failed",
  "cancelled",
];

export interface Address {
  address: string;
  name?: string;
}

/** An attachment as stored: by sha256, its bytes either inline (base64) or in blobs/<sha256>. */
export interface AttachmentRef {
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  inline?: string;
  /** Set in archive/: the bytes (inline or blob) were dropped when the segment was archived. */
  archived?: true;
}

export interface Mail {
  subject: string;
  html: string;
  text?: string;
  fromName?: string;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo?: Address;
  attachments: AttachmentRef[];
  messageId: string;
  /** SMTP intake: the message as received (a blob), relayed as-is instead of composed. */
  raw?: { sha256: string; size: number; archived?: true };
  /** SMTP intake with keepSender: the client's MAIL FROM, else delivery.from is used. */
  envelopeFrom?: string;
  /** The template (templates.dir) that rendered subject, html and text at intake. */
  template?: string;
  /** Scheduled send: not delivered before this time (ISO, UTC); the mail is `scheduled` until then. */
  sendAt?: string;
  /** Extra headers the sender asked for (allowlisted at intake, mail-extras.ts). */
  headers?: Record<string, string>;
  /** The sender's labels and key/value pairs: stored, shown by the status API, carried by events. */
  tags?: string[];
  metadata?: Record<string, string>;
}

/** One SMTP transaction (or outbox write) of an attempt. */
export interface Transaction {
  upstream: string;
  envelope: { from: string; to: string[] };
  code: number;
  response: string;
}
