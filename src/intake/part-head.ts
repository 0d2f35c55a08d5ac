// One multipart part's header block → its field name, file name and declared type
// (RFC 7578). Anything that would make the part unreadable — no Content-Disposition, no
// name, a raw control character where none may be, a header line that is not one — is a
// 400 naming the part (`part[i]`, counted from 0), never a part skipped.
import { invalidField, type MailspoolError } from "../errors.js";
import { decodeExtValue, parseHeaderValue } from "./header-params.js";
import { decodeUtf8 } from "../utf8.js";

export interface PartHead {
  name: string;
  /** Set when the part is a file (`filename=` or `filename*=` present, even empty). */
  filename?: string;
  contentType?: string;
}

// the value's trailing spaces and tabs are cut by trimEnd below (a lazy `([^]*?)[ \t]*$`
// would try the end of the line at every character)
const headerLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*([^]*)$/;
const rawControl = /[\0-\x08\n-\x1f\x7f]/;
const singleHeaders = new Set(["content-disposition", "content-type", "content-transfer-encoding"]);

export function partError(index: number, message: string, name?: string): MailspoolError {
  return invalidField(`part[${index}]`, name === undefined ? message : `(${JSON.stringify(name)}) ${message}`);
}

/** `block` is the part's header lines without the blank line that ends them. */
export function parsePartHead(block: Buffer, index: number, maxLines: number): PartHead {
  const text = decodeUtf8(block);
  if (text === null) throw partError(index, "part headers must be UTF-8");
  const lines = text === "" ? [] : text.split("\r\n");
  if (lines.length > maxLines) throw partError(index, `has ${lines.length} header lines (at most ${maxLines})`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const match = headerLine.exec(line);
    if (!match) throw partError(index, `has a malformed header line ${JSON.stringify(line.slice(0, 60))}`);
    const name = match[1]!.toLowerCase();
    if (headers.has(name) && singleHeaders.has(name)) throw partError(index, `has two ${match[1]} headers`);
    headers.set(name, trimEnd(match[2]!));
  }
  const disposition = headers.get("content-disposition");
  if (disposition === undefined) throw partError(index, "has no Content-Disposition header");
  const parsed = parseHeaderValue(disposition);
  if (typeof parsed === "string") throw partError(index, `Content-Disposition ${parsed}`);
  if (parsed.value !== "form-data") throw partError(index, "Content-Disposition must be form-data");
  const { params } = parsed;
  const name = params.get("name");
  if (!name) throw partError(index, 'Content-Disposition has no name="…"');
  if (rawControl.test(name)) throw partError(index, "the part's name contains a control character");
  for (const [key, value] of params)
    if (key !== "filename" && rawControl.test(value))
      throw partError(index, `Content-Disposition parameter ${key} contains a control character`, name);
  // a file part's name and type are checked where they are named attachment[i].filename / .contentType
  for (const [key, value] of headers)
    if (key !== "content-disposition" && key !== "content-type" && rawControl.test(value))
      throw partError(index, `header ${key} contains a control character`, name);
  const encoding = headers.get("content-transfer-encoding")?.toLowerCase();
  if (encoding !== undefined && !["7bit", "8bit", "binary"].includes(encoding))
    throw partError(index, `Content-Transfer-Encoding ${encoding} is not supported (send the bytes as they are)`, name);
  const head: PartHead = { name };
  const extended = params.get("filename*");
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended);
    if (decoded === null) throw partError(index, "filename* is not a valid RFC 5987 value (UTF-8''…)", name);
    head.filename = decoded;
  } else if (params.has("filename")) head.filename = params.get("filename")!;
  const contentType = headers.get("content-type");
  if (contentType !== undefined) head.contentType = contentType;
  return head;
}

/** Without trailing spaces and tabs (String.prototype.trimEnd would also cut other whitespace). */
function trimEnd(value: string): string {
  let end = value.length;
  while (end > 0 && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end -= 1;
  return end === value.length ? value : value.slice(0, end);
}
