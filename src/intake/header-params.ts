// One strict reader for `value; name=token; name="quoted"` header values (RFC 9110
// parameters): the request's Content-Type, a part's Content-Disposition and Content-Type,
// and a JSON attachment's contentType; and the one rule for a declared charset. A
// duplicate parameter is an error, never a choice.
import { decodeUtf8 } from "../utf8.js";

export interface HeaderValue {
  /** The value before the first `;`, lowercased (`form-data`, `text/plain`). */
  value: string;
  /** Parameter names lowercased; quoted values unquoted. */
  params: Map<string, string>;
}

const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const leading = new RegExp(`^[ \\t]*(${token}(?:/${token})?)[ \\t]*`);
// a quoted value runs to the next unescaped quote; raw control characters inside it are
// kept, so the caller can name the part they came in rather than fail on the syntax
// (written as `[^"\\]*(?:\\[^][^"\\]*)*`, the unrolled form of `(?:[^"\\]|\\[^])*`: the same
// strings, without one alternation per character)
const param = new RegExp(
  `;[ \\t]*(${token})[ \\t]*=[ \\t]*(?:"([^"\\\\]*(?:\\\\[^][^"\\\\]*)*)"|(${token}))[ \\t]*`,
  "y",
);
const trailing = /;?[ \t]*$/y;

/** The parsed value, or a message saying what is wrong with it. */
export function parseHeaderValue(text: string): HeaderValue | string {
  const head = leading.exec(text);
  if (!head) return "does not start with a type";
  const params = new Map<string, string>();
  let at = head[0].length;
  for (;;) {
    param.lastIndex = at;
    const match = param.exec(text);
    if (!match) break;
    const name = match[1]!.toLowerCase();
    if (params.has(name)) return `parameter ${name} is given twice`;
    // only \" and \\ are escapes: browsers, curl and undici send a backslash in a file name as-is
    params.set(name, match[2] !== undefined ? match[2].replace(/\\(["\\])/g, "$1") : match[3]!);
    at = param.lastIndex;
  }
  trailing.lastIndex = at;
  if (!trailing.test(text) || trailing.lastIndex !== text.length)
    return `malformed parameter at ${JSON.stringify(text.slice(at, at + 40))}`;
  return { value: head[1]!.toLowerCase(), params };
}

/** Why a MIME type (`type/subtype; param=value`) is not acceptable, or null when it is. */
export function contentTypeProblem(text: string): string | null {
  if (text.length > 255) return "contentType is longer than 255 characters";
  if (!/^[\x20-\x7e]+$/.test(text)) return "contentType must be printable ASCII (no control characters)";
  const parsed = parseHeaderValue(text);
  if (typeof parsed === "string") return `contentType ${parsed}`;
  if (!parsed.value.includes("/")) return "contentType must be type/subtype, like text/plain";
  return null;
}

/** Why text declared in this charset cannot be read as UTF-8, or null (none declared, utf-8, us-ascii). */
export function charsetProblem(value: HeaderValue): string | null {
  const charset = value.params.get("charset")?.toLowerCase();
  if (charset === undefined || charset === "utf-8" || charset === "us-ascii") return null;
  return `charset ${charset.slice(0, 40)} is not supported (send UTF-8)`;
}

/** RFC 5987 / 2231 ext-value (`UTF-8''%E6%8A%A5.txt`) → text, or null when malformed. */
export function decodeExtValue(text: string): string | null {
  const match = /^(utf-8|iso-8859-1)'[A-Za-z0-9-]*'((?:[!#$&+.^_`|~0-9A-Za-z-]|%[0-9A-Fa-f]{2})*)$/i.exec(text);
  if (!match) return null;
  const bytes = Buffer.from(decodeURIComponentBytes(match[2]!));
  if (match[1]!.toLowerCase() === "iso-8859-1") return bytes.toString("latin1");
  return decodeUtf8(bytes);
}

function decodeURIComponentBytes(text: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "%") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i));
  }
  return bytes;
}
