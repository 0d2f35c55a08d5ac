// The top-level members of a JSON object in the order written, duplicates included:
// JSON.parse keeps only the last of two equal keys, which would drop a field silently.
// Inside the members' values (attachment objects) a repeated key has no rule that could
// keep both, so it is a 400 naming its path (`attachment[1].filename`). The text is parsed
// first (so it is valid JSON); one scan then finds each member's key and value span and
// every nested object's keys, skipping strings with indexOf (a 25 MB base64 string is one
// search).
import { invalidField } from "../errors.js";

/** [key, value] pairs, or null when the text is valid JSON but not an object. Throws SyntaxError on bad JSON. */
export function jsonMembers(text: string): [string, unknown][] | null {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const spans = memberSpans(text);
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

const whitespace = /[ \t\n\r]*/y;
const scalar = /[^,}\] \t\n\r]*/y;

function memberSpans(text: string): Span[] {
  const spans: Span[] = [];
  let at = skipWhitespace(text, skipWhitespace(text, 0) + 1);
  if (text[at] === "}") return spans;
  for (;;) {
    const keyEnd = stringEnd(text, at);
    const key = keyOf(text, at, keyEnd);
    const start = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const end = valueEnd(text, start, key);
    spans.push({ key, start, end });
    at = skipWhitespace(text, end);
    if (text[at] === "}") return spans;
    at = skipWhitespace(text, at + 1);
  }
}

/** The end of the value at `at`; throws the 400 for a key repeated in any object inside it. */
function valueEnd(text: string, at: number, member: string): number {
  const frames: Frame[] = [];
  let i = at;
  for (;;) {
    const c = text[i];
    if (c === "{" || c === "[") {
      const frame: Frame = { keys: c === "{" ? new Set() : null, at: 0 };
      frames.push(frame);
      i = skipWhitespace(text, i + 1);
      if (text[i] !== "}" && text[i] !== "]") {
        i = enter(text, i, frame, member, frames);
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
        i = enter(text, skipWhitespace(text, i + 1), frame, member, frames);
        break;
      }
      frames.pop();
      i += 1;
    }
  }
}

/** At the start of an element or member of `frame`: records a member's key and returns where its value starts. */
function enter(text: string, at: number, frame: Frame, member: string, frames: Frame[]): number {
  if (frame.keys === null) return at;
  const keyEnd = stringEnd(text, at);
  const key = keyOf(text, at, keyEnd);
  frame.at = key;
  if (frame.keys.has(key)) throw invalidField(pathOf(member, frames), "this key is given more than once");
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
