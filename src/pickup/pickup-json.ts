// The bytes of a pickup file → the members of its JSON object, in the order written with
// repeats kept (so a new mail's repeated field meets the same rule as over HTTP). A
// malformed file is refused with where and what went wrong (line, column, the kind of
// error), never with a piece of its content: the runtimes' JSON.parse messages quote the
// text around the error, so the position comes from jsonc-parser's error list instead.
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { MailspoolError, invalidField } from "../errors.js";
import { jsonMembers } from "../intake/json-members.js";
import { decodeUtf8 } from "../utf8.js";

const byteOrderMark = "\uFEFF";

export function parsePickupJson(bytes: Buffer): [string, unknown][] {
  // strict, as HTTP bodies are: invalid UTF-8 is refused, never turned into U+FFFD
  let text = decodeUtf8(bytes);
  if (text === null) throw invalidField("body", "the file is not valid UTF-8");
  if (text.startsWith(byteOrderMark)) text = text.slice(byteOrderMark.length);
  let members: [string, unknown][] | null;
  try {
    members = jsonMembers(text);
  } catch (error) {
    // a key repeated inside a nested object is named by its path, like over HTTP
    if (error instanceof MailspoolError) throw error;
    throw new MailspoolError("invalid_param", `malformed JSON: ${describeError(text)}`);
  }
  if (!members) throw invalidField("body", "a pickup file must hold a JSON object");
  return members;
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
