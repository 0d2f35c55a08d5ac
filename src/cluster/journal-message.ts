// A journal message: one spool line as its origin stored it, followed by the bytes of the
// blobs an accepted record names (attachments not inline, a raw SMTP message), in the order
// the header lists them. Headers carry the origin host and the line's position there.
import type { AcceptedRecord, SpoolRecord } from "../spool/record.js";

export interface BlobRef {
  sha256: string;
  size: number;
}

/** The blobs a record needs beside it: an accepted record's stored attachments and raw message. */
export function blobsOf(record: SpoolRecord): BlobRef[] {
  if (record.type !== "accepted") return [];
  const { mail } = record as AcceptedRecord;
  const refs: BlobRef[] = mail.attachments
    .filter((a) => a.inline === undefined && !a.archived)
    .map((a) => ({ sha256: a.sha256, size: a.size }));
  if (mail.raw && !mail.raw.archived) refs.push({ sha256: mail.raw.sha256, size: mail.raw.size });
  return refs;
}

export interface JournalHeaders {
  host: string;
  pos: number;
}

export function journalHeaders(headers: Record<string, unknown> | undefined): JournalHeaders | null {
  const host = headers?.["x-host"];
  const pos = headers?.["x-pos"];
  return typeof host === "string" && typeof pos === "number" ? { host, pos } : null;
}
