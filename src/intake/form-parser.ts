// Streams multipart/form-data and x-www-form-urlencoded bodies through @fastify/busboy
// with limits, keeping each part's declared Content-Type and raw file name (so a bad
// name can be refused, not silently rewritten). Over the body limit → 413; on any
// failure every spilled temp file is removed.
import { Busboy, type BusboyFileStream } from "@fastify/busboy";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MailspoolError, invalidField, spoolIoError } from "../errors.js";
import type { BlobStore } from "../spool/blobs.js";
import { limitedChunks } from "./body-reader.js";
import { FileCollector, discardFiles, type IncomingFile } from "./incoming-file.js";

export interface FormLimits {
  maxBodyBytes: number;
  inlineMaxBytes: number;
  maxFiles: number;
  maxFields: number;
}

export interface ParsedForm {
  fields: Record<string, string>;
  files: IncomingFile[];
}

export async function parseForm(
  request: Request,
  contentType: string,
  limits: FormLimits,
  store: BlobStore,
): Promise<ParsedForm> {
  const fields: Record<string, string> = {};
  const files: IncomingFile[] = [];
  const collectors = new Set<FileCollector>();
  let failure: unknown = null;
  const fail = (error: unknown) => {
    failure ??= error;
  };
  const pending: Promise<void>[] = [];

  let busboy;
  try {
    busboy = new Busboy({
      headers: { "content-type": contentType },
      defCharset: "utf8",
      preservePath: true,
      limits: {
        fieldSize: limits.maxBodyBytes,
        fields: limits.maxFields + 1,
        files: limits.maxFiles,
        parts: limits.maxFields + limits.maxFiles + 1,
        headerPairs: 20,
      },
    });
  } catch (error) {
    throw invalidField("Content-Type", (error as Error).message);
  }

  let fieldCount = 0;
  busboy.on("field", (name, value, _nameTruncated, valueTruncated) => {
    // busboy reports its own fields limit only on a later write: count here, so one chunk or many answer alike
    fieldCount += 1;
    if (fieldCount > limits.maxFields) fail(invalidField("body", `too many fields (at most ${limits.maxFields})`));
    else if (name === "attachment" || name === "attachment[]")
      fail(invalidField(name, 'an attachment part needs a file name (filename="…")'));
    else if (valueTruncated) fail(invalidField(name, "value is too long"));
    else if (!(name in fields)) fields[name] = value;
  });
  busboy.on("file", (field, stream: BusboyFileStream, filename, _encoding, mimeType) => {
    const collector = new FileCollector(store, limits.inlineMaxBytes);
    collectors.add(collector);
    pending.push(
      (async () => {
        for await (const chunk of stream) await collector.write(chunk as Buffer);
        files.push(collector.finish({ field, filename, contentType: mimeType }));
        collectors.delete(collector);
      })().catch((error) => {
        fail(asFormError(error));
        stream.resume();
      }),
    );
  });
  busboy.on("filesLimit", () =>
    fail(invalidField("attachment[]", `too many attachments (at most ${limits.maxFiles})`)),
  );
  busboy.on("fieldsLimit", () => fail(invalidField("body", `too many fields (at most ${limits.maxFields})`)));
  busboy.on("partsLimit", () => fail(invalidField("body", "too many parts")));

  try {
    await pipeline(Readable.from(refuseEncodedLineBreaks(limitedChunks(request, limits.maxBodyBytes))), busboy);
    await Promise.all(pending);
  } catch (error) {
    fail(asFormError(error));
    await Promise.allSettled(pending);
  }
  if (failure) {
    await Promise.all([...collectors].map((c) => c.discard()));
    await discardFiles(files);
    throw failure;
  }
  return { fields, files };
}

/** Our own errors pass through; file-system errors (spilling a blob) are spool errors; the rest is bad input. */
function asFormError(error: unknown): MailspoolError {
  if (error instanceof MailspoolError) return error;
  if (typeof (error as NodeJS.ErrnoException).syscall === "string") return spoolIoError(error);
  return invalidField("body", `malformed form body: ${(error as Error).message}`);
}

/** A part header parameter (`name*=` / `filename*=`, RFC 5987) that percent-encodes CR or LF. */
const encodedLineBreak = /name\*=[^\r\n]*%0[da]/i;

/**
 * busboy silently skips a part whose (file) name decodes to a line break, which would
 * accept the mail without that attachment; refuse the request instead. The tail of the
 * previous chunk is kept so a header split across chunks is still seen.
 */
async function* refuseEncodedLineBreaks(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let tail = "";
  for await (const chunk of chunks) {
    const text = tail + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
    if (encodedLineBreak.test(text))
      throw invalidField("attachment[]", "a part's name or file name must not contain CR or LF");
    tail = text.slice(-1024);
    yield chunk;
  }
}
