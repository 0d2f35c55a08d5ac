// A message arriving over SMTP DATA, streamed into an uncommitted blob. The header block
// is held back until complete so a Message-ID can be added in front when it is missing;
// the subject is read from it (mailparser decodes RFC 2047) for status and spool show.
import { simpleParser } from "mailparser";
import type { BlobStore, BlobWriter } from "../spool/blobs.js";

const maxHeaderBytes = 256 * 1024;

export interface ReceivedMessage {
  blob: BlobWriter;
  subject: string;
  messageId: string;
}

export async function receiveMessage(
  stream: AsyncIterable<Buffer>,
  store: BlobStore,
  makeMessageId: () => string,
): Promise<ReceivedMessage> {
  const blob = await store.create();
  try {
    let head = Buffer.alloc(0);
    let headers: { subject: string; messageId: string } | null = null;
    for await (const chunk of stream) {
      if (headers) {
        await blob.write(chunk);
        continue;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length < maxHeaderBytes) continue;
      headers = await writeHead(blob, head, end < 0 ? head.length : end + 4, makeMessageId);
    }
    headers ??= await writeHead(blob, head, head.length, makeMessageId);
    return { blob, ...headers };
  } catch (error) {
    await blob.discard();
    throw error;
  }
}

async function writeHead(
  blob: BlobWriter,
  head: Buffer,
  headerEnd: number,
  makeMessageId: () => string,
): Promise<{ subject: string; messageId: string }> {
  const parsed = await simpleParser(Buffer.concat([head.subarray(0, headerEnd), Buffer.from("\r\n")]), {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  let messageId = parsed.messageId ?? "";
  if (!messageId) {
    messageId = makeMessageId();
    await blob.write(Buffer.from(`Message-ID: ${messageId}\r\n`));
  }
  await blob.write(head);
  return { subject: parsed.subject ?? "", messageId };
}
