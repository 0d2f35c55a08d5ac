// A mail's bytes for the console: its message as sent (the raw message SMTP intake kept, or
// the one delivery composes), its attachments, and its HTML body for the preview. All of it
// is hostile: downloads are attachments typed as bytes, and the HTML is served only under
// a CSP that runs no script, loads nothing and sandboxes the document.
import type { Context } from "hono";
import { attachmentContent, composeMessage } from "../../delivery/compose.js";
import { MailspoolError } from "../../errors.js";
import type { AcceptedRecord } from "../../spool/record.js";
import type { AppDeps } from "../app.js";
import { visibleMail } from "../token-scopes.js";
import type { ConsoleEnv } from "./guard.js";

export const previewCsp =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'";

/** The mail this client may see, with its accepted record; 404 as for no mail otherwise. */
export async function readMail(c: Context<ConsoleEnv>, { spool }: AppDeps) {
  const entry = visibleMail(c, spool.index.get(c.req.param("id") ?? ""));
  if (!entry) throw new MailspoolError("not_found", "No such mail");
  return { entry, record: await spool.readAccepted(entry.id, entry) };
}

/** The message as delivery sends it; null once archiving dropped the bytes it is made of. */
export async function messageBytes(record: AcceptedRecord, { spool, config }: AppDeps): Promise<Buffer | null> {
  const { mail } = record;
  if (mail.raw?.archived || mail.attachments.some((a) => a.archived)) return null;
  return composeMessage(record, config.delivery.from, spool.blobs);
}

/** The header block of a message, unfolded, as name/value pairs in order. */
export function headerFields(message: Buffer): [string, string][] {
  const text = message.toString("utf8", 0, Math.min(message.length, 256 * 1024));
  const end = text.search(/\r?\n\r?\n/);
  const head = (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, " ");
  return head
    .split(/\r?\n/)
    .map((line): [string, string] => {
      const colon = line.indexOf(":");
      return colon > 0 ? [line.slice(0, colon), line.slice(colon + 1).trim()] : ["", line];
    })
    .filter(([name, value]) => name || value);
}

/** `attachment` with the name as plain ASCII and, exactly, as RFC 5987 UTF-8. */
export function attachmentDisposition(filename: string): string {
  const plain = filename.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 200) || "attachment";
  const exact = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${plain}"; filename*=UTF-8''${exact}`;
}

export function download(c: Context, bytes: Buffer, type: string, filename: string) {
  c.header("Content-Type", type);
  c.header("Content-Disposition", attachmentDisposition(filename));
  c.header("Content-Length", String(bytes.length));
  return c.body(new Uint8Array(bytes));
}

export async function attachmentBytes(record: AcceptedRecord, index: number, { spool }: AppDeps): Promise<Buffer> {
  const attachment = record.mail.attachments[index];
  if (!attachment) throw new MailspoolError("not_found", "No such attachment");
  if (attachment.archived)
    throw new MailspoolError("not_found", "The attachment's bytes were dropped when its mail was archived");
  return attachmentContent(attachment, spool.blobs);
}
