// A send request of any accepted content type → its raw fields and collected files.
// Only `attachment[]` / `attachment` may carry files.
import { MailspoolError, invalidField } from "../errors.js";
import type { BlobStore } from "../spool/blobs.js";
import { readLimitedBody } from "./body-reader.js";
import { parseForm, type FormLimits } from "./form-parser.js";
import { FileCollector, discardFiles, type IncomingFile } from "./incoming-file.js";
import { fieldErrors, jsonAttachmentsSchema } from "./mail-schema.js";

export interface SendInput {
  fields: Record<string, unknown>;
  files: IncomingFile[];
}

const attachmentFields = new Set(["attachment", "attachment[]"]);

export async function readSendRequest(request: Request, limits: FormLimits, store: BlobStore): Promise<SendInput> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType === "multipart/form-data" || mediaType === "application/x-www-form-urlencoded") {
    const form = await parseForm(request, contentType, limits, store);
    const stray = form.files.find((f) => !attachmentFields.has(f.field));
    if (stray) {
      await discardFiles(form.files);
      throw invalidField(stray.field, "files are only accepted under attachment[]");
    }
    return form;
  }
  if (mediaType === "application/json") return readJson(request, limits, store);
  throw new MailspoolError(
    "unsupported_media_type",
    "Content-Type must be multipart/form-data, application/x-www-form-urlencoded or application/json",
    {
      errors: [{ field: "Content-Type", message: `unsupported: ${JSON.stringify(mediaType.slice(0, 100))}` }],
    },
  );
}

async function readJson(request: Request, limits: FormLimits, store: BlobStore): Promise<SendInput> {
  const body = await readLimitedBody(request, limits.maxBodyBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw invalidField("body", `malformed JSON: ${(error as Error).message}`);
  }
  return sendInputFromJson(parsed, limits, store);
}

/** A parsed JSON send request (HTTP body or pickup file) → fields and collected files. */
export async function sendInputFromJson(parsed: unknown, limits: FormLimits, store: BlobStore): Promise<SendInput> {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw invalidField("body", "the JSON body must be an object");
  const { attachment, "attachment[]": bracketed, ...fields } = parsed as Record<string, unknown>;
  const key = bracketed !== undefined ? "attachment[]" : "attachment";
  const list = jsonAttachmentsSchema.safeParse(bracketed ?? attachment);
  if (!list.success) throw new MailspoolError("invalid_param", undefined, { errors: fieldErrors(list.error, key) });
  const entries = list.data ?? [];
  if (entries.length > limits.maxFiles) throw invalidField(key, `too many attachments (at most ${limits.maxFiles})`);
  const files: IncomingFile[] = [];
  try {
    for (const entry of entries) {
      const collector = new FileCollector(store, limits.inlineMaxBytes);
      await collector.write(Buffer.from(entry.content, "base64")).catch(async (error) => {
        await collector.discard();
        throw error;
      });
      files.push(
        collector.finish({
          field: key,
          filename: entry.filename,
          contentType: entry.contentType ?? "application/octet-stream",
        }),
      );
    }
  } catch (error) {
    await discardFiles(files);
    throw error;
  }
  return { fields, files };
}
