// multipart/form-data send requests → fields and files, with the field rules of
// send-fields.ts. Every part ends in the result or in a 400 naming it. File parts stream
// chunk by chunk into a FileCollector (a write that spills to a blob is awaited before the
// next event is scanned and the next chunk read), in the order sent; on any failure every
// spilled temp file is removed. A body of at most `wholeBodyBytes` (declared length) is
// read in one go and scanned as one chunk; a larger one streams through a bounded window.
import { MailspoolError, invalidField } from "../errors.js";
import type { BlobStore } from "../spool/blobs.js";
import { limitedChunks } from "./body-reader.js";
import { charsetProblem, parseHeaderValue } from "./header-params.js";
import { FileCollector, discardFiles, type IncomingFile } from "./incoming-file.js";
import { attachmentErrors } from "./mail-schema.js";
import { MultipartScanner } from "./multipart-stream.js";
import { parsePartHead, type PartHead } from "./part-head.js";
import { SendFieldCollector, attachmentFields, maxFieldBytes } from "./send-fields.js";
import { decodeUtf8 } from "../utf8.js";

export interface FormLimits {
  maxBodyBytes: number;
  inlineMaxBytes: number;
  maxFiles: number;
  maxFields: number;
}

export interface ParsedForm {
  fields: Record<string, unknown>;
  files: IncomingFile[];
}

/** Per part: header lines and bytes of its header block. */
export const partHeaderLimits = { maxLines: 16, maxBytes: 8 * 1024 };

/** A multipart body whose declared length is at most this is read whole rather than streamed. */
export const wholeBodyBytes = 64 * 1024;

export async function parseMultipart(
  request: Request,
  contentType: string,
  limits: FormLimits,
  store: BlobStore,
): Promise<ParsedForm> {
  const boundary = boundaryOf(contentType);
  const fields = new SendFieldCollector();
  const files: IncomingFile[] = [];
  let file: { collector: FileCollector; head: Required<PartHead> } | null = null;
  let field: { name: string; chunks: Buffer[]; size: number; max: number } | null = null;
  let fieldCount = 0;
  const scanner = new MultipartScanner(boundary, {
    maxHeaderBytes: partHeaderLimits.maxBytes,
    maxParts: limits.maxFiles + limits.maxFields,
  });
  try {
    for await (const chunk of limitedChunks(request, limits.maxBodyBytes, wholeBodyBytes)) {
      for (const event of scanner.push(chunk)) {
        if (event.type === "part") {
          const head = parsePartHead(event.header, event.index, partHeaderLimits.maxLines);
          if (head.filename !== undefined) {
            const contentType = head.contentType ?? "application/octet-stream";
            const checked = checkFilePart(head, contentType, files.length, limits);
            file = { head: checked, collector: new FileCollector(store, limits.inlineMaxBytes) };
          } else {
            fields.expect(head.name);
            checkFieldType(head);
            fieldCount += 1;
            if (fieldCount > limits.maxFields)
              throw invalidField("body", `too many fields (at most ${limits.maxFields})`);
            field = { name: head.name, chunks: [], size: 0, max: maxFieldBytes(head.name, limits.maxBodyBytes) };
          }
        } else if (event.type === "data") {
          if (file) {
            const spilling = file.collector.write(event.data);
            if (spilling) await spilling;
          } else if (field) {
            field.size += event.data.length;
            if (field.size > field.max) throw invalidField(field.name, `value is longer than ${field.max} bytes`);
            field.chunks.push(event.data);
          }
        } else if (file) {
          const { name, filename, contentType } = file.head;
          files.push(file.collector.finish({ field: name, filename, contentType }));
          file = null;
        } else if (field) {
          fields.add(field.name, decodeField(field.name, field.chunks));
          field = null;
        }
      }
    }
    scanner.end();
  } catch (error) {
    await file?.collector.discard();
    await discardFiles(files);
    throw error;
  }
  return { fields: fields.values, files };
}

function boundaryOf(contentType: string): string {
  const parsed = parseHeaderValue(contentType);
  if (typeof parsed === "string") throw invalidField("Content-Type", parsed);
  const boundary = parsed.params.get("boundary");
  if (!boundary) throw invalidField("Content-Type", "multipart/form-data needs a boundary parameter");
  if (boundary.length > 70 || !/^[0-9A-Za-z'()+_,./:=? -]*[0-9A-Za-z'()+_,./:=?-]$/.test(boundary))
    throw invalidField("Content-Type", "the boundary must be 1 to 70 characters of RFC 2046 bchars");
  return boundary;
}

/** A file part is refused at its headers, before any of its bytes are read. */
function checkFilePart(head: PartHead, contentType: string, index: number, limits: FormLimits): Required<PartHead> {
  if (!attachmentFields.has(head.name))
    throw invalidField(head.name.slice(0, 100), "files are only accepted under attachment[]");
  if (index >= limits.maxFiles) throw invalidField("attachment[]", `too many attachments (at most ${limits.maxFiles})`);
  const errors = attachmentErrors(index, head.filename!, contentType);
  if (errors.length) throw new MailspoolError("invalid_param", undefined, { errors });
  return { name: head.name, filename: head.filename!, contentType };
}

/**
 * A text field's value is read as UTF-8 text: a part that declares another charset, or a
 * media type whose bytes are not text (multipart/mixed, an image …), is refused, not misread.
 */
function checkFieldType(head: PartHead): void {
  if (head.contentType === undefined) return;
  const parsed = parseHeaderValue(head.contentType);
  if (typeof parsed === "string" || /[\0-\x1f\x7f]/.test(head.contentType))
    throw invalidField(head.name, "the part's Content-Type is malformed");
  if (!parsed.value.startsWith("text/") && parsed.value !== "application/json")
    throw invalidField(
      head.name,
      `a text field may be text/* or application/json, not ${parsed.value.slice(0, 60)} (files need filename="…")`,
    );
  const problem = charsetProblem(parsed);
  if (problem) throw invalidField(head.name, problem);
}

function decodeField(name: string, chunks: Buffer[]): string {
  const text = decodeUtf8(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  if (text === null) throw invalidField(name, "value is not valid UTF-8");
  return text;
}
