// A message arriving over SMTP DATA, streamed into an uncommitted blob. Its start is held
// back until the header section is known (message-head.ts) so a Message-ID can be added
// in front when it is missing; the subject is read from it (mailparser decodes RFC 2047)
// for status and spool show. Every limit holds while the bytes arrive: past the size limit
// nothing more is written and the temp blob goes at once; a header section over its limit
// or one the parser refuses is the client's error (554, never a transient 451). Either way
// the rest of the DATA is read and dropped, so the reply comes after the final dot.
import { simpleParser } from "mailparser";
import { MailspoolError } from "../errors.js";
import type { BlobStore, BlobWriter } from "../spool/blobs.js";
import { HeadReader, messageIdPrefix, type MessageHead } from "./message-head.js";
import { smtpReply } from "./smtp-reply.js";

/** The header section we hold in memory and parse: Postfix-like bounds for real mail. */
export const headerLimits = { maxBytes: 256 * 1024, maxLines: 4096 };
/** mailparser charges each header line at least 64 bytes: a bound its own limit never reaches. */
const parserHeadSize = headerLimits.maxBytes + 64 * headerLimits.maxLines;

export interface ReceivedMessage {
  blob: BlobWriter;
  subject: string;
  messageId: string;
}

export interface ReceiveOptions {
  store: BlobStore;
  /** The SIZE limit: the blob never holds more than this of the client's bytes. */
  maxBytes: number;
  /** The time the whole DATA may take; then the stream is destroyed with a 421 reply. */
  timeoutMs: number;
  /** The Message-ID to add when the message has none. */
  messageId: string;
}

export async function receiveMessage(
  stream: AsyncIterable<Buffer> & { destroy(error?: Error): void; sizeExceeded?: boolean },
  options: ReceiveOptions,
): Promise<ReceivedMessage> {
  const timer = setTimeout(
    () => stream.destroy(smtpReply(421, `4.4.2 Message not received within ${options.timeoutMs / 1000} seconds`)),
    options.timeoutMs,
  );
  timer.unref();
  let blob: BlobWriter | undefined;
  try {
    blob = await options.store.create();
    const message = await readInto(blob, stream, options);
    clearTimeout(timer);
    return message;
  } catch (error) {
    clearTimeout(timer);
    await blob?.discard();
    throw error;
  }
}

async function readInto(
  blob: BlobWriter,
  stream: AsyncIterable<Buffer> & { sizeExceeded?: boolean },
  options: ReceiveOptions,
): Promise<ReceivedMessage> {
  const reader = new HeadReader(headerLimits);
  let headers: { subject: string; messageId: string } | undefined;
  let received = 0;
  let refusal: unknown;
  for await (const chunk of stream) {
    received += chunk.length;
    if (refusal === undefined && (received > options.maxBytes || stream.sizeExceeded))
      refusal = smtpReply(552, `5.3.4 Message size exceeds fixed maximum message size ${options.maxBytes}`);
    if (refusal === undefined) {
      try {
        if (headers) await blob.write(chunk);
        else {
          const head = reader.feed(chunk);
          if (head) headers = await writeHead(blob, head, options.messageId);
        }
      } catch (error) {
        refusal = error;
      }
    }
    // refused: the temp blob goes now, and the rest of the DATA is read and dropped
    if (refusal !== undefined) await blob.discard();
  }
  if (refusal !== undefined) throw refusal;
  headers ??= await writeHead(blob, reader.end(), options.messageId);
  return { blob, ...headers };
}

async function writeHead(
  blob: BlobWriter,
  head: MessageHead,
  fallbackId: string,
): Promise<{ subject: string; messageId: string }> {
  const found = head.kind === "fields" ? await parseHeader(head.held.subarray(0, head.headerEnd)) : undefined;
  if (found?.messageId === undefined) await blob.write(messageIdPrefix(head, fallbackId));
  await blob.write(head.held);
  return { subject: found?.subject ?? "", messageId: found?.messageId ?? fallbackId };
}

/** Subject and Message-ID (undefined when the header has no Message-ID field) of a header section. */
async function parseHeader(header: Buffer): Promise<{ subject: string; messageId: string | undefined }> {
  let parsed;
  try {
    parsed = await simpleParser(Buffer.concat([header, Buffer.from("\r\n")]), {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
      maxHeadSize: parserHeadSize,
    });
  } catch (cause) {
    throw new MailspoolError("invalid_param", "Message header section could not be parsed", { cause });
  }
  const line = parsed.headerLines.find((l) => l.key === "message-id")?.line;
  const messageId = line === undefined ? undefined : (parsed.messageId ?? line.slice(line.indexOf(":") + 1).trim());
  return { subject: parsed.subject ?? "", messageId };
}
