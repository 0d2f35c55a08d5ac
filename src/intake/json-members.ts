// The top-level members of a JSON object in the order written, duplicates included:
// JSON.parse keeps only the last of two equal keys, which would drop a field silently.
// The text is parsed first (so it is valid JSON); the scan then finds each member's key and
// value span, skipping strings with indexOf (a 25 MB base64 string is one search).

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

const whitespace = /[ \t\n\r]*/y;
const structural = /["{}[\]]/g;
const scalar = /[^,}\] \t\n\r]*/y;

function memberSpans(text: string): Span[] {
  const spans: Span[] = [];
  let at = skipWhitespace(text, skipWhitespace(text, 0) + 1);
  if (text[at] === "}") return spans;
  for (;;) {
    const keyEnd = stringEnd(text, at);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    const start = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const end = valueEnd(text, start);
    spans.push({ key, start, end });
    at = skipWhitespace(text, end);
    if (text[at] === "}") return spans;
    at = skipWhitespace(text, at + 1);
  }
}

function skipWhitespace(text: string, at: number): number {
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

function valueEnd(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first !== "{" && first !== "[") {
    scalar.lastIndex = at;
    scalar.test(text);
    return scalar.lastIndex;
  }
  let depth = 0;
  structural.lastIndex = at;
  for (;;) {
    const match = structural.exec(text)!;
    if (match[0] === '"') {
      structural.lastIndex = stringEnd(text, match.index);
      continue;
    }
    depth += match[0] === "{" || match[0] === "[" ? 1 : -1;
    if (depth === 0) return match.index + 1;
  }
}
