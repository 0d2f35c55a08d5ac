// The field rules every encoding shares (multipart, urlencoded, JSON, pickup files): a
// field the API does not know is a 400 naming it; a single-valued field given twice is a
// 400; a list field given twice gets its values joined with "," in the order sent. The
// names are those of the send schemas (mail-schema.ts), which /openapi.json describes.
import { invalidField } from "../errors.js";
import { attachmentFieldNames, listFields, multipartSendSchema } from "./mail-schema.js";

const known = Object.keys(multipartSendSchema.shape);
export const attachmentFields: ReadonlySet<string> = new Set(attachmentFieldNames);
const singleValued = new Set(known.filter((name) => !listFields.has(name) && !attachmentFields.has(name)));

/** The longest value of a field other than the mail's body (content, text). */
export const maxShortFieldBytes = 64 * 1024;

export function maxFieldBytes(name: string, maxBodyBytes: number): number {
  return name === "content" || name === "text" ? maxBodyBytes : maxShortFieldBytes;
}

export class SendFieldCollector {
  readonly values: Record<string, unknown> = {};

  /** Throws the 400 a value for `name` would get: unknown field, or a single-valued one seen before. */
  expect(name: string): void {
    if (attachmentFields.has(name)) throw invalidField(name, 'an attachment must be a file part (with filename="…")');
    if (!singleValued.has(name) && !listFields.has(name))
      throw invalidField(name.slice(0, 100), `unknown field; the fields are ${known.join(", ")}`);
    if (singleValued.has(name) && Object.hasOwn(this.values, name))
      throw invalidField(name, "given more than once (it takes one value)");
  }

  add(name: string, value: unknown): void {
    this.expect(name);
    if (!Object.hasOwn(this.values, name)) {
      this.values[name] = value;
      return;
    }
    const before = this.values[name];
    if (typeof before !== "string" || typeof value !== "string")
      throw invalidField(name, "given more than once with a value that is not a string");
    this.values[name] = `${before},${value}`;
  }
}
