// The send request's fields, as zod schemas shared by every way in (multipart, form,
// JSON, pickup files). Fields that end up in a header refuse CR, LF and NUL.
import { z } from "zod";
import type { FieldError } from "../errors.js";
import { unsafeText } from "../unsafe-text.js";
import { contentTypeProblem } from "./header-params.js";

const headerSafe = (label: string) =>
  z.string().refine((v) => !/[\r\n\0]/.test(v), { message: `${label} must not contain CR, LF or NUL` });

const optionalHeader = (label: string) => headerSafe(label).max(998, `${label} is too long`).optional();

export const sendFieldsSchema = z.object({
  title: headerSafe("title").min(1, "title is required").max(998, "title is too long"),
  content: z.string().min(1, "content is required"),
  text: z.string().optional(),
  sender_name: optionalHeader("sender_name"),
  receiver: headerSafe("receiver").min(1, "receiver is required"),
  receiver_name: optionalHeader("receiver_name"),
  cc: headerSafe("cc").optional(),
  bcc: headerSafe("bcc").optional(),
  reply_to: headerSafe("reply_to").optional(),
  // checked with the policy's clock and limits (mail-extras.ts)
  send_at: z.unknown().optional(),
  headers: z.unknown().optional(),
  tags: z.unknown().optional(),
  metadata: z.unknown().optional(),
});

export type SendFields = z.infer<typeof sendFieldsSchema>;

/** Exactly these keys: another one (`encoding`, `cid`, …) would be a request the relay cannot honour. */
export const jsonAttachmentSchema = z.strictObject({
  filename: z.string().min(1, "filename is required"),
  // checked strictly where it is decoded (strict-base64.ts)
  content: z.string(),
  contentType: z.string().optional(),
});

const pathSeparator = /[/\\]/;

/** Problems with one attachment's name and type, named by its position. */
export function attachmentErrors(index: number, filename: string, contentType: string): FieldError[] {
  const errors: FieldError[] = [];
  const field = `attachment[${index}]`;
  if (filename.length === 0 || filename.length > 255)
    errors.push({ field: `${field}.filename`, message: "filename must be 1 to 255 characters" });
  else if (pathSeparator.test(filename) || filename === "." || filename === "..")
    errors.push({ field: `${field}.filename`, message: "filename must not contain a path" });
  else if (unsafeText.test(filename))
    errors.push({
      field: `${field}.filename`,
      message: "filename must not contain control characters or invisible/bidirectional formatting characters",
    });
  const problem = contentTypeProblem(contentType);
  if (problem) errors.push({ field: `${field}.contentType`, message: problem });
  return errors;
}

/** zod issues as the API's `[{field, message}]`, the field named by its path (under `prefix`); each unknown key by its own. */
export function fieldErrors(error: z.ZodError, prefix = ""): FieldError[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys")
      return issue.keys.map((key) => ({
        field: fieldName([...issue.path, key.slice(0, 100)], prefix),
        message: "unknown key",
      }));
    const field = fieldName(issue.path, prefix);
    // zod 4 says "expected string, received undefined" for a field that is simply absent
    const missing = issue.code === "invalid_type" && /received undefined$/.test(issue.message);
    return [{ field, message: missing ? `${String(issue.path.at(-1) ?? field)} is required` : issue.message }];
  });
}

function fieldName(issuePath: PropertyKey[], prefix: string): string {
  const path = issuePath.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${String(p)}` : String(p))).join("");
  if (!prefix) return path || "body";
  return path === "" ? prefix : path.startsWith("[") ? prefix + path : `${prefix}.${path}`;
}
