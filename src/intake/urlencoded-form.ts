// x-www-form-urlencoded send requests → fields, with the field rules of send-fields.ts.
// Decoded as strictly as a multipart text field: '+' is a space, every '%' starts a
// two-digit escape, and the bytes (escaped or raw) must be UTF-8 — a value that is not is
// a 400 naming its field, never U+FFFD (URLSearchParams replaces it without a word).
import { invalidField } from "../errors.js";
import { readLimitedBody } from "./body-reader.js";
import type { FormLimits, ParsedForm } from "./form-parser.js";
import { SendFieldCollector } from "./send-fields.js";
import { decodeUtf8 } from "../utf8.js";

const ampersand = 0x26;
const equals = 0x3d;

export async function parseUrlencoded(request: Request, limits: FormLimits): Promise<ParsedForm> {
  const body = await readLimitedBody(request, limits.maxBodyBytes);
  const fields = new SendFieldCollector();
  let count = 0;
  for (let start = 0; start < body.length;) {
    const found = body.indexOf(ampersand, start);
    const end = found < 0 ? body.length : found;
    // like URLSearchParams, an empty pair (`a=1&&b=2`) is no field
    if (end > start) {
      count += 1;
      if (count > limits.maxFields) throw invalidField("body", `too many fields (at most ${limits.maxFields})`);
      const pair = body.subarray(start, end);
      const split = pair.indexOf(equals);
      const name = decodeComponent(split < 0 ? pair : pair.subarray(0, split), "body");
      fields.expect(name);
      fields.add(name, decodeComponent(split < 0 ? Buffer.alloc(0) : pair.subarray(split + 1), name));
    }
    start = end + 1;
  }
  return { fields: fields.values, files: [] };
}

/** One name or value; a name that cannot be decoded is reported as the body's. */
function decodeComponent(bytes: Buffer, field: string): string {
  const what = field === "body" ? "a field name" : "the value";
  const text = decodeUtf8(bytes);
  if (text === null) throw invalidField(field, `${what} is not valid UTF-8`);
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    throw invalidField(field, `${what} has a malformed %-escape, or %-escaped bytes that are not UTF-8`);
  }
}
