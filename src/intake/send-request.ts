// A send request of any accepted content type → its raw fields and collected files, with
// one set of field rules (send-fields.ts). Only `attachment[]` / `attachment` carry files;
// in JSON both keys may be used and their lists are kept in the order written.
import { MailspoolError, invalidField } from "../errors.js";
import type { BlobStore } from "../spool/blobs.js";
import { readLimitedBody } from "./body-reader.js";
import { parseMultipart, type FormLimits } from "./form-parser.js";
import { charsetProblem, parseHeaderValue } from "./header-params.js";
import { FileCollector, discardFiles, type IncomingFile } from "./incoming-file.js";
import { jsonMembers } from "./json-members.js";
import { attachmentErrors, fieldErrors, jsonAttachmentSchema } from "./mail-schema.js";
import { SendFieldCollector, attachmentFields } from "./send-fields.js";
import { decodeStrictBase64 } from "./strict-base64.js";
import { parseUrlencoded } from "./urlencoded-form.js";
import { decodeUtf8 } from "../utf8.js";

export interface SendInput {
  fields: Record<string, unknown>;
  files: IncomingFile[];
}

export async function readSendRequest(request: Request, limits: FormLimits, store: BlobStore): Promise<SendInput> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType === "multipart/form-data") return parseMultipart(request, contentType, limits, store);
  if (mediaType === "application/x-www-form-urlencoded") {
    checkCharset(contentType);
    return parseUrlencoded(request, limits);
  }
  if (mediaType === "application/json") {
    checkCharset(contentType);
    return readJson(request, limits, store);
  }
  throw new MailspoolError(
    "unsupported_media_type",
    "Content-Type must be multipart/form-data, application/x-www-form-urlencoded or application/json",
    {
      errors: [{ field: "Content-Type", message: `unsupported: ${JSON.stringify(mediaType.slice(0, 100))}` }],
    },
  );
}

/** Urlencoded and JSON bodies are read as UTF-8, like multipart text fields: another declared charset is refused, not misread. */
export function checkCharset(contentType: string): void {
  const parsed = parseHeaderValue(contentType);
  const problem = typeof parsed === "string" ? parsed : charsetProblem(parsed);
  if (problem) throw invalidField("Content-Type", problem);
}

/** A JSON body (at most maxBodyBytes) read by `read` (jsonMembers, jsonElements); malformed JSON is a 400 `body`. */
export async function readJsonBody<T>(request: Request, maxBodyBytes: number, read: (text: string) => T): Promise<T> {
  const body = await readLimitedBody(request, maxBodyBytes);
  const decoded = decodeUtf8(body);
  if (decoded === null) throw invalidField("body", "the JSON body is not valid UTF-8");
  const text = decoded.startsWith("\uFEFF") ? decoded.slice(1) : decoded;
  try {
    return read(text);
  } catch (error) {
    if (error instanceof MailspoolError) throw error;
    throw invalidField("body", `malformed JSON: ${(error as Error).message}`);
  }
}

async function readJson(request: Request, limits: FormLimits, store: BlobStore): Promise<SendInput> {
  const members = await readJsonBody(request, limits.maxBodyBytes, jsonMembers);
  if (!members) throw invalidField("body", "the JSON body must be an object");
  return sendInputFromMembers(members, limits, store);
}

/** A JSON send request's members in the order written (HTTP body or pickup file) → fields and collected files. */
export async function sendInputFromMembers(
  members: [string, unknown][],
  limits: FormLimits,
  store: BlobStore,
): Promise<SendInput> {
  const fields = new SendFieldCollector();
  const entries: { field: string; filename: string; content: string; contentType: string }[] = [];
  for (const [key, value] of members) {
    if (!attachmentFields.has(key)) {
      fields.add(key, value);
      continue;
    }
    if (!Array.isArray(value)) throw invalidField(key, "must be a list of {filename, content (base64), contentType}");
    for (const item of value) {
      const field = `attachment[${entries.length}]`;
      if (entries.length >= limits.maxFiles)
        throw invalidField(key, `too many attachments (at most ${limits.maxFiles})`);
      const parsed = jsonAttachmentSchema.safeParse(item);
      if (!parsed.success)
        throw new MailspoolError("invalid_param", undefined, { errors: fieldErrors(parsed.error, field) });
      const entry = { ...parsed.data, field, contentType: parsed.data.contentType ?? "application/octet-stream" };
      const errors = attachmentErrors(entries.length, entry.filename, entry.contentType);
      if (errors.length) throw new MailspoolError("invalid_param", undefined, { errors });
      entries.push(entry);
    }
  }
  const files: IncomingFile[] = [];
  try {
    for (const entry of entries) {
      const bytes = decodeStrictBase64(entry.content);
      if (!bytes)
        throw invalidField(
          `${entry.field}.content`,
          "content must be base64: whole 4-character groups, padding only at the end (spaces and line breaks may wrap it)",
        );
      const collector = new FileCollector(store, limits.inlineMaxBytes);
      await Promise.resolve(collector.write(bytes)).catch(async (error) => {
        await collector.discard();
        throw error;
      });
      files.push(collector.finish({ field: "attachment", filename: entry.filename, contentType: entry.contentType }));
    }
  } catch (error) {
    await discardFiles(files);
    throw error;
  }
  return { fields: fields.values, files };
}
