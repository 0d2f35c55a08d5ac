// The top-level members of a JSON object in the order written, duplicates included:
// JSON.parse keeps only the last of two equal keys, which would drop a field silently.
// Inside the members' values (attachment objects) a repeated key has no rule that could
// keep both, so it is a 400 naming its path (`attachment[1].filename`). The text is parsed
// first (so it is valid JSON); one scan then finds each member's key and value span and
// every nested object's keys, skipping strings with indexOf (a 25 MB base64 string is one
// search). A batch (a JSON array of such objects) is read element by element the same way,
// each element's problem named by its index.
import { invalidField, type FieldError } from "../errors.js";

const repeatedKey = "this key is given more than once";

/** [key, value] pairs, or null when the text is valid JSON but not an object. Throws SyntaxError on bad JSON. */
export function jsonMembers(text: string): [string, unknown][] | null {
  const parsed: unknown = JSON.parse(text);
  if (!isObject(parsed)) return null;
  const { spans, repeated } = objectSpans(text, skipWhitespace(text, 0));
  if (repeated) throw invalidField(repeated, repeatedKey);
  return membersOf(text, parsed, spans);
}

/**
 * The elements of a JSON array (a batch), each as jsonMembers reads an object, or the problem
 * that element has (not an object: field ""; a key repeated inside it: its path in the
 * element); null when the text is valid JSON but not an array. Throws SyntaxError on bad JSON.
 */
export function jsonElements(text: string): ([string, unknown][] | FieldError)[] | null {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) return null;
  const elements: ([string, unknown][] | FieldError)[] = [];
  let at = skipWhitespace(text, skipWhitespace(text, 0) + 1);
  for (const element of parsed) {
    if (isObject(element)) {
      const { spans, end, repeated } = objectSpans(text, at);
      elements.push(repeated ? { field: repeated, message: repeatedKey } : membersOf(text, element, spans));
      at = end;
    } else {
      elements.push({ field: "", message: "must be an object (one send request)" });
      at = valueEnd(text, at, "", {});
    }
    at = skipWhitespace(text, at);
    at = skipWhitespace(text, at + 1);
  }
  return elements;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Only an object with a key given twice at its top needs its members parsed one by one. */
function membersOf(text: string, parsed: Record<string, unknown>, spans: Span[]): [string, unknown][] {
  if (new Set(spans.map((s) => s.key)).size === spans.length) return Object.entries(parsed);
  return spans.map(({ key, start, end }) => [key, JSON.parse(text.slice(start, end))]);
}

interface Span {
  key: string;
  start: number;
  end: number;
}

/** An open object or array inside a member's value; `at` names the member or element being read. */
interface Frame {
  keys: Set<string> | null;
  at: string | number;
}

/** The path of the first key repeated inside a nested object, once one is found. */
interface Scan {
  repeated?: string;
}

const whitespace = /[ \t\n\r]*/y;
const scalar = /[^,}\] \t\n\r]*/y;

/** The members of the object opening at `open`, where it ends, and the first key repeated inside a member's value. */
function objectSpans(text: string, open: number): { spans: Span[]; end: number; repeated?: string } {
  const spans: Span[] = [];
  const scan: Scan = {};
  let at = skipWhitespace(text, open + 1);
  if (text[at] === "}") return { spans, end: at + 1 };
  for (;;) {
    const keyEnd = stringEnd(text, at);
    const key = keyOf(text, at, keyEnd);
    const start = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const end = valueEnd(text, start, key, scan);
    spans.push({ key, start, end });
    at = skipWhitespace(text, end);
    if (text[at] === "}") return { spans, end: at + 1, repeated: scan.repeated };
    at = skipWhitespace(text, at + 1);
  }
}

/** The end of the value at `at`; a key repeated in any object inside it goes to `scan`. */
function valueEnd(text: string, at: number, member: string, scan: Scan): number {
  const frames: Frame[] = [];
  let i = at;
  for (;;) {
    const c = text[i];
    if (c === "{" || c === "[") {
      const frame: Frame = { keys: c === "{" ? new Set() : null, at: 0 };
      frames.push(frame);
      i = skipWhitespace(text, i + 1);
      if (text[i] !== "}" && text[i] !== "]") {
        i = enter(text, i, frame, member, frames, scan);
        continue;
      }
      frames.pop();
      i += 1;
    } else if (c === '"') i = stringEnd(text, i);
    else {
      scalar.lastIndex = i;
      scalar.test(text);
      i = scalar.lastIndex;
    }
    // after a value: the next member or element, or the end of the container(s) holding it
    for (;;) {
      if (frames.length === 0) return i;
      i = skipWhitespace(text, i);
      const frame = frames.at(-1)!;
      if (text[i] === ",") {
        if (frame.keys === null) frame.at = (frame.at as number) + 1;
        i = enter(text, skipWhitespace(text, i + 1), frame, member, frames, scan);
        break;
      }
      frames.pop();
      i += 1;
    }
  }
}

/** At the start of an element or member of `frame`: records a member's key and returns where its value starts. */
function enter(text: string, at: number, frame: Frame, member: string, frames: Frame[], scan: Scan): number {
  if (frame.keys === null) return at;
  const keyEnd = stringEnd(text, at);
  const key = keyOf(text, at, keyEnd);
  frame.at = key;
  if (frame.keys.has(key)) scan.repeated ??= pathOf(member, frames);
  frame.keys.add(key);
  return skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
}

function pathOf(member: string, frames: Frame[]): string {
  return frames.reduce((path, f) => (typeof f.at === "number" ? `${path}[${f.at}]` : `${path}.${f.at}`), member);
}

/** A key's text: only one with escapes needs decoding (`"\u0074itle"` is `title`). */
function keyOf(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  return raw.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

function skipWhitespace(text: string, at: number): number {
  // compact JSON has none: no regex run for it
  const c = text.charCodeAt(at);
  if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return at;
  whitespace.lastIndex = at;
  whitespace.test(text);
  return whitespace.lastIndex;
}

/** `at` is an opening quote; returns the index after its closing quote. */
function stringEnd(text: string, at: number): number {
  for (let from = at + 1; ;) {
    const quote = text.indexOf('"', from);
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}
