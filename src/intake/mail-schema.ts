// The send request's fields, as zod schemas shared by every way in (multipart, form,
// JSON, pickup files). Fields that end up in a header refuse CR, LF and NUL.
import { z } from "zod";
import type { FieldError } from "../errors.js";
import { unsafeText } from "../unsafe-text.js";
import { contentTypeProblem } from "./header-params.js";
import { maxAttachments } from "./limits.js";
import { templateNamePattern } from "../templates/template-set.js";

const headerSafe = (label: string) =>
  z.string().refine((v) => !/[\r\n\0]/.test(v), { message: `${label} must not contain CR, LF or NUL` });

const optionalHeader = (label: string) => headerSafe(label).max(998, `${label} is too long`).optional();

export const sendFieldsSchema = z.object({
  title: headerSafe("title")
    .min(1, "title is required")
    .max(998, "title is too long")
    .meta({ description: "The Subject (UTF-8)" }),
  content: z.string().min(1, "content is required").meta({ description: "HTML body" }),
  text: z.string().optional().meta({ description: "Plain-text alternative; derived from the HTML when absent" }),
  sender_name: optionalHeader("sender_name").meta({ description: "Display name of the From address" }),
  receiver: headerSafe("receiver")
    .min(1, "receiver is required")
    .meta({ description: "Addresses, comma separated (given twice: joined with a comma)" }),
  receiver_name: optionalHeader("receiver_name").meta({
    description: "Display names, comma separated, matched to receiver by position",
  }),
  cc: headerSafe("cc").optional().meta({ description: "Addresses, comma separated" }),
  bcc: headerSafe("bcc").optional().meta({ description: "Addresses, comma separated" }),
  reply_to: headerSafe("reply_to").optional().meta({ description: "One address" }),
  // checked with the policy's clock and limits (mail-extras.ts)
  send_at: z.unknown().optional().meta({ description: "RFC 3339 with an offset: the mail is scheduled until then" }),
  headers: z
    .unknown()
    .optional()
    .meta({ description: "An object of extra headers (allowlisted: X-*, List-Unsubscribe, …)" }),
  tags: z.unknown().optional().meta({ description: "A list of short strings (in a form: comma separated)" }),
  metadata: z.unknown().optional().meta({ description: "A small map of strings" }),
});

/** The fields that may be given more than once: their values are joined with ",". */
export const listFields: ReadonlySet<string> = new Set(["receiver", "receiver_name", "cc", "bcc", "tags"]);

/** The names files are sent under (multipart), or attachment lists (JSON). */
export const attachmentFieldNames = ["attachment[]", "attachment"] as const;

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

const withAttachments = <T extends z.ZodType>(item: T, description: string) =>
  Object.fromEntries(
    attachmentFieldNames.map((name) => [name, z.array(item).max(maxAttachments).optional().meta({ description })]),
  ) as Record<(typeof attachmentFieldNames)[number], z.ZodOptional<z.ZodArray<T>>>;

/**
 * What a send request carries: the mail's fields, or a template of the operator's with its
 * variables in place of the body (template-fields.ts renders them before sendFieldsSchema).
 */
export const requestFieldsSchema = sendFieldsSchema
  .extend({
    title: sendFieldsSchema.shape.title
      .optional()
      .meta({ description: "The Subject (UTF-8); required unless the template has a .subject" }),
    content: sendFieldsSchema.shape.content.optional().meta({ description: "HTML body; required unless template" }),
  })
  .extend({
    template: z
      .string()
      .regex(templateNamePattern)
      .optional()
      .meta({ description: "A template of templates.dir: it gives content, text and (with .subject) title" }),
    variables: z
      .union([z.record(z.string(), z.unknown()), z.string()])
      .optional()
      .meta({ description: "The template's variables: a JSON object (in a form field: its JSON text)" }),
  });

/** A multipart send: the fields as text parts, files under attachment[] (or attachment). The multipart and urlencoded readers take the field names from it. */
export const multipartSendSchema = requestFieldsSchema.extend(
  withAttachments(z.file(), "Files, in the order sent (each part with filename=)"),
);

/** A JSON send (POST /api/email/send, one element of a batch, a pickup file): an unknown key is refused. */
export const jsonSendSchema = requestFieldsSchema
  .extend(withAttachments(jsonAttachmentSchema, "Attachments, in the order written"))
  .strict();
