// The bytes of a pickup file → its JSON value. A malformed file is refused with where and
// what went wrong (line, column, the kind of error), never with a piece of its content:
// the runtimes' JSON.parse messages quote the text around the error, so the position comes
// from jsonc-parser's error list instead.
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { MailspoolError } from "../errors.js";

const byteOrderMark = "\uFEFF";

export function parsePickupJson(bytes: Buffer): unknown {
  let text = bytes.toString("utf8");
  if (text.startsWith(byteOrderMark)) text = text.slice(byteOrderMark.length);
  try {
    return JSON.parse(text);
  } catch {
    throw new MailspoolError("invalid_param", `malformed JSON: ${describeError(text)}`);
  }
}

function describeError(text: string): string {
  if (text.trim() === "") return "the file is empty";
  const errors: ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return "not valid JSON";
  const before = text.slice(0, first.offset);
  const line = before.split("\n").length;
  const column = first.offset - before.lastIndexOf("\n");
  return `${words(printParseErrorCode(first.error))} at line ${line}, column ${column}`;
}

/** "CloseBraceExpected" → "close brace expected" */
function words(code: string): string {
  return code.replace(/(?<=[a-z])(?=[A-Z])/g, " ").toLowerCase();
}
