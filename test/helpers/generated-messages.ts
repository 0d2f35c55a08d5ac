// Generated raw messages for the SMTP intake property tests: with a header section (with
// or without a Message-ID, folded lines, with or without a body), with an empty header
// section, or with none at all (a first line that is no header field), in CRLF or LF, and
// bodies whose lines look like headers ("hello: world", "Message-ID: <x>") or SMTP (".").
// Each comes with what the relay must keep: the original body, and whether it needs a
// Message-ID. messageIdCount and splitAtHeaderEnd check a delivered message independently
// of the relay's own code.
import fc from "fast-check";

export interface GeneratedMessage {
  bytes: Buffer;
  kind: "fields" | "empty" | "none";
  hasMessageId: boolean;
  /** Everything after the header section (the whole message when it has none). */
  body: Buffer;
}

const text = (max: number) =>
  fc.string({ unit: fc.constantFrom(..."abcxyz XYZ019:;<>@.=-_\t()\"'ëü✓"), maxLength: max });
const bodyLine = fc.oneof(
  text(60),
  fc.constantFrom(".", "..", ".hidden", "hello", "hello: world", "Message-ID: <in-body@example.com>", "", " "),
  fc.uint8Array({ maxLength: 40 }).map((bytes) =>
    Buffer.from(bytes)
      .toString("latin1")
      .replace(/[\r\n]/g, ""),
  ),
);
/** First lines that are not a header field, so the message has no header section. */
const notAField = fc.oneof(
  fc.constantFrom("hello", "hello world: x", " leading space: y", "\tTab: z", "From someone@example.com", "Ünïcode: x"),
  text(30).map((t) => `hello world ${t}`),
);
const fieldName = fc.constantFrom("Subject", "From", "To", "X-Tag", "Date", "Reply-To", "X-Mailer", "subject");
const headerLine = fc
  .tuple(fieldName, text(50), fc.option(text(30), { nil: undefined }))
  .map(([name, value, folded]) => (folded === undefined ? [`${name}: ${value}`] : [`${name}: ${value}`, ` ${folded}`]));

export const generatedMessage: fc.Arbitrary<GeneratedMessage> = fc
  .record({
    kind: fc.constantFrom("fields", "fields", "empty", "none"),
    eol: fc.constantFrom("\r\n", "\n"),
    fields: fc.array(headerLine, { maxLength: 8 }),
    messageIdAt: fc.option(fc.nat(8), { nil: undefined }),
    first: notAField,
    lines: fc.array(bodyLine, { maxLength: 12 }),
    headerOnly: fc.boolean(),
    endsWithEol: fc.boolean(),
  })
  .map((g) => {
    const body = Buffer.from(g.lines.join(g.eol) + (g.lines.length && g.endsWithEol ? g.eol : ""), "latin1");
    if (g.kind === "none") {
      const all = Buffer.from(g.first + (g.lines.length ? g.eol : "") + body.toString("latin1"), "latin1");
      return { bytes: all, kind: "none", hasMessageId: false, body: all };
    }
    if (g.kind === "empty")
      return { bytes: Buffer.concat([Buffer.from(g.eol), body]), kind: "empty", hasMessageId: false, body };
    const fields = [...g.fields];
    if (g.messageIdAt !== undefined) fields.splice(g.messageIdAt, 0, ["Message-ID: <given@example.com>"]);
    const lines = fields.flat();
    if (lines.length === 0) lines.unshift("Subject: first");
    const header = lines.join(g.eol) + g.eol;
    const tail = g.headerOnly ? "" : g.eol + body.toString("latin1");
    return {
      bytes: Buffer.from(header + tail, "latin1"),
      kind: "fields",
      hasMessageId: g.messageIdAt !== undefined,
      body: g.headerOnly ? Buffer.alloc(0) : body,
    };
  });

/** A header section of fields whose values are random bytes (any but LF), then a body. */
export const garbageHeaderMessage = (eol: "\r\n" | "\n") =>
  fc
    .array(
      fc
        .tuple(fc.constantFrom("Subject", "From", "To", "Content-Type", "Date", "X"), fc.uint8Array({ maxLength: 80 }))
        .map(([name, value]) => Buffer.concat([Buffer.from(`${name}:`), Buffer.from(value.filter((b) => b !== 10))])),
      { minLength: 1, maxLength: 10 },
    )
    .map((lines) => Buffer.concat([...lines.flatMap((l) => [l, Buffer.from(eol)]), Buffer.from(`${eol}body${eol}`)]));

/** Random cut points: the message as the chunks a client or socket might deliver. */
export const chunked = (bytes: Buffer) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 6 }).map((cuts) => {
    const points = [0, ...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b), bytes.length];
    return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
  });

/** Splits a message at its first empty line: [header section without that line, body]. */
export function splitAtHeaderEnd(message: Buffer): [Buffer, Buffer] {
  const text = message.toString("latin1");
  const m = /(^|\n)(\r?\n)/.exec(text);
  if (!m) return [message, Buffer.alloc(0)];
  const end = m.index + m[1]!.length;
  return [message.subarray(0, end), message.subarray(end + m[2]!.length)];
}

/** Header fields named Message-ID in a header section (folded lines are not fields). */
export const messageIdCount = (header: Buffer) =>
  header
    .toString("latin1")
    .split(/\r?\n/)
    .filter((line) => /^message-id\s*:/i.test(line)).length;
