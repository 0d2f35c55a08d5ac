// POST /api/email/batch: a JSON array of send requests → one element per mail, each read
// exactly as the JSON body of a send (sendInputFromMembers: the same field rules, limits and
// strict base64; a key repeated inside an element is that element's problem). An element
// that cannot be read carries its errors instead of failing the read, so the 400 (given by
// Intake.validateBatch once every element was validated) lists each failing one. On an
// unexpected failure (I/O) every element's spilled temp file is removed.
import { MailspoolError, invalidField, type FieldError } from "../errors.js";
import type { BlobStore } from "../spool/blobs.js";
import type { FormLimits } from "./form-parser.js";
import { discardFiles } from "./incoming-file.js";
import { jsonElements } from "./json-members.js";
import { checkCharset, readJsonBody, sendInputFromMembers, type SendInput } from "./send-request.js";

/** One element of a batch: what was read, or why it could not be (fields named within the element). */
export type BatchElement = { input: SendInput } | { errors: FieldError[] };

/** `errors` of element `at`, each field named under it (`[3].receiver`; the element itself is `[3]`). */
export function elementErrors(at: number, errors: FieldError[]): FieldError[] {
  return errors.map(({ field, message }) => ({ field: field ? `[${at}].${field}` : `[${at}]`, message }));
}

export function batchFiles(elements: BatchElement[]) {
  return elements.flatMap((element) => ("input" in element ? element.input.files : []));
}

export async function readBatchRequest(
  request: Request,
  limits: FormLimits,
  store: BlobStore,
  maxBatch: number,
): Promise<BatchElement[]> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType !== "application/json")
    throw new MailspoolError("unsupported_media_type", "Content-Type must be application/json (an array of sends)", {
      errors: [{ field: "Content-Type", message: `unsupported: ${JSON.stringify(mediaType.slice(0, 100))}` }],
    });
  checkCharset(contentType);
  const members = await readJsonBody(request, limits.maxBodyBytes, jsonElements);
  if (!members) throw invalidField("body", "the body must be a JSON array of send requests");
  if (members.length === 0) throw invalidField("body", "the batch is empty");
  if (members.length > maxBatch)
    throw invalidField("body", `too many mails: ${members.length} (at most ${maxBatch}, server.maxBatch)`);
  const elements: BatchElement[] = [];
  try {
    for (const element of members) {
      if (!Array.isArray(element)) {
        elements.push({ errors: [element] });
        continue;
      }
      try {
        elements.push({ input: await sendInputFromMembers(element, limits, store) });
      } catch (error) {
        if (!(error instanceof MailspoolError && error.errors)) throw error;
        elements.push({ errors: error.errors });
      }
    }
  } catch (error) {
    await discardFiles(batchFiles(elements));
    throw error;
  }
  return elements;
}
