// Generated multipart/form-data send requests for the property tests: a model of parts
// (fields and files, header order and case, extra headers, malformed pieces), its bytes,
// and the answer the relay owes it (200 with these attachments in this order, or a 400
// naming this field). Shared by the parser's unit test and the binary's property test.
import { createHash } from "node:crypto";
import fc from "fast-check";

export type Malformation =
  | "no-disposition"
  | "no-name"
  | "bare-cr-in-filename"
  | "bare-lf-in-filename"
  | "crlf-in-filename"
  | "unsafe-in-filename"
  | "too-many-headers"
  | "header-too-big"
  | "unknown-field"
  | "duplicate-title"
  | "transfer-encoding"
  | "non-text-field-type";

export interface PartModel {
  name: string;
  value?: string;
  file?: { filename: string; contentType: string; data: Uint8Array };
  headerCase: "canonical" | "lower" | "upper";
  typeFirst: boolean;
  extraHeaders: string[];
  malformation?: Malformation;
  /** A text field part's declared Content-Type (text/* or application/json; another one is a malformation). */
  fieldType?: string;
  /** For "unsafe-in-filename": the character and where it goes. */
  unsafe?: { char: string; at: number };
}

/** What follows the close delimiter: ordinary epilogues, and ones that smuggle content after the close. */
export type Epilogue =
  | "none"
  | "crlf"
  | "text"
  | "padded-text"
  | "delimiter-prefix"
  | "part-after-close"
  | "garbage-then-part"
  | "delimiter-in-text";

const smuggling = new Set<Epilogue>(["part-after-close", "garbage-then-part", "delimiter-in-text"]);

export interface RequestModel {
  parts: PartModel[];
  boundary: string;
  preamble: string;
  epilogue: Epilogue;
  truncate: boolean;
}

export type Expected =
  | {
      status: 200;
      receivers: string[];
      files: { filename: string; contentType: string; sha256: string; size: number }[];
    }
  | { status: 400; field: string };

export const partLimits = { maxLines: 16, maxBytes: 8 * 1024 };

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

function headerName(name: string, style: PartModel["headerCase"]): string {
  return style === "lower" ? name.toLowerCase() : style === "upper" ? name.toUpperCase() : name;
}

function encodePart(part: PartModel, boundary: string): Buffer {
  const m = part.malformation;
  let filename = part.file?.filename;
  if (filename !== undefined && m === "bare-cr-in-filename") filename = `${filename}\rX`;
  if (filename !== undefined && m === "bare-lf-in-filename") filename = `X\n${filename}`;
  if (filename !== undefined && m === "crlf-in-filename") filename = `a\r\nb${filename}`;
  if (filename !== undefined && m === "unsafe-in-filename" && part.unsafe) {
    const at = part.unsafe.at % (filename.length + 1);
    filename = filename.slice(0, at) + part.unsafe.char + filename.slice(at);
  }
  const name = m === "unknown-field" ? "priority" : m === "duplicate-title" ? "title" : part.name;
  const disposition =
    `${headerName("Content-Disposition", part.headerCase)}: form-data` +
    (m === "no-name" ? "" : `; name="${name}"`) +
    (filename !== undefined ? `; filename="${filename}"` : "");
  const lines: string[] = [];
  if (m !== "no-disposition") lines.push(disposition);
  const declared = part.file?.contentType ?? part.fieldType;
  if (declared !== undefined) {
    const type = `${headerName("Content-Type", part.headerCase)}: ${declared}`;
    if (part.typeFirst) lines.unshift(type);
    else lines.push(type);
  }
  lines.push(...part.extraHeaders);
  if (m === "too-many-headers") for (let i = 0; i < partLimits.maxLines; i++) lines.push(`X-Filler-${i}: ${i}`);
  if (m === "header-too-big") lines.push(`X-Big: ${"b".repeat(partLimits.maxBytes)}`);
  if (m === "transfer-encoding") lines.push("Content-Transfer-Encoding: base64");
  const data = part.file ? Buffer.from(part.file.data) : Buffer.from(part.value ?? "", "utf8");
  return Buffer.concat([Buffer.from(`\r\n--${boundary}\r\n${lines.join("\r\n")}\r\n\r\n`, "utf8"), data]);
}

function epilogueText(epilogue: Epilogue, boundary: string): string {
  const part = `--${boundary}\r\nContent-Disposition: form-data; name="attachment[]"; filename="late.txt"\r\n\r\nlate\r\n--${boundary}--\r\n`;
  switch (epilogue) {
    case "none":
      return "";
    case "crlf":
      return "\r\n";
    case "text":
      return "\r\nepilogue";
    case "padded-text":
      return ` \t\r\nepilogue\r\n-- not the boundary\r\n-${boundary}\r\n`;
    case "delimiter-prefix":
      return `\r\n\r\n--${boundary.slice(0, -1)}`;
    case "part-after-close":
      return `\r\n${part}`;
    case "garbage-then-part":
      return `garbage\r\n${part}`;
    case "delimiter-in-text":
      return `\r\nsome text\r\n--${boundary}and more\r\n`;
  }
}

export function encodeRequest(model: RequestModel): Buffer {
  const epilogue = epilogueText(model.epilogue, model.boundary);
  const body = Buffer.concat([
    Buffer.from(model.preamble),
    ...model.parts.map((p) => encodePart(p, model.boundary)),
    Buffer.from(`\r\n--${model.boundary}--${epilogue}`),
  ]);
  // the opening delimiter needs no CRLF before it when there is no preamble
  const trimmed = model.preamble === "" ? body.subarray(2) : body;
  return model.truncate ? trimmed.subarray(0, trimmed.length - Buffer.byteLength(epilogue) - 4) : trimmed;
}

/** What the relay must answer: the first unreadable or refused part decides the 400. */
export function expectedAnswer(model: RequestModel): Expected {
  let files = 0;
  const seen = new Set<string>();
  const receivers: string[] = [];
  for (const [i, part] of model.parts.entries()) {
    const m = part.malformation;
    if (m === "no-disposition" || m === "no-name" || m === "too-many-headers" || m === "header-too-big")
      return { status: 400, field: `part[${i}]` };
    if (m === "crlf-in-filename" || m === "transfer-encoding") return { status: 400, field: `part[${i}]` };
    if (m === "unknown-field") return { status: 400, field: "priority" };
    if (m === "non-text-field-type") return { status: 400, field: part.name };
    const name = m === "duplicate-title" ? "title" : part.name;
    if (part.file) {
      if (m === "bare-cr-in-filename" || m === "bare-lf-in-filename" || m === "unsafe-in-filename")
        return { status: 400, field: `attachment[${files}].filename` };
      files += 1;
      continue;
    }
    if (name === "title" && seen.has("title")) return { status: 400, field: "title" };
    seen.add(name);
    if (name === "receiver") receivers.push(...(part.value ?? "").split(","));
  }
  if (model.truncate || smuggling.has(model.epilogue)) return { status: 400, field: "body" };
  return {
    status: 200,
    receivers,
    files: model.parts
      .filter((p) => p.file)
      .map((p) => ({ ...p.file!, data: undefined, sha256: sha256(p.file!.data), size: p.file!.data.length })),
  };
}

/**
 * Characters a file name may not hold (src/unsafe-text.ts: controls, C1, bidi and invisible
 * formatting), but CR and LF, which have malformations of their own.
 */
export const unsafeNameChar = fc
  .oneof(
    fc.integer({ min: 0, max: 0x1f }).filter((c) => c !== 0x0a && c !== 0x0d),
    fc.integer({ min: 0x7f, max: 0x9f }),
    fc.integer({ min: 0x202a, max: 0x202e }),
    fc.integer({ min: 0x2066, max: 0x2069 }),
    fc.constantFrom(0x061c, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x2060, 0xfeff),
  )
  .map((c) => String.fromCharCode(c));

const fileName = fc
  .tuple(fc.constantFrom("报告", "résumé", "a b", "data", "x-1", "Ωmega", "file"), fc.constantFrom(".pdf", ".txt", ""))
  .map(([stem, ext]) => stem + ext);
const contentType = fc.constantFrom("application/pdf", "text/plain; charset=utf-8", "image/png", 'text/csv; x="a b"');
const extraHeader = fc.constantFrom(
  "X-Trace: 1",
  "Content-Length: 12",
  "x-custom-header:  spaced ",
  "Content-Transfer-Encoding: binary",
);
/** What a text field part may declare, and what it may not (its bytes would not be text). */
const textFieldType = fc.constantFrom(
  "text/plain",
  "text/plain; charset=utf-8",
  "TEXT/HTML; charset=UTF-8",
  'text/plain; charset="us-ascii"',
  "application/json",
);
const otherFieldType = fc.constantFrom(
  "multipart/mixed; boundary=inner",
  "application/octet-stream",
  "image/png",
  "message/rfc822",
  "application/x-www-form-urlencoded",
  "application/pdf",
  "text",
);
const style = {
  headerCase: fc.constantFrom("canonical" as const, "lower" as const, "upper" as const),
  typeFirst: fc.boolean(),
  extraHeaders: fc.uniqueArray(extraHeader, { maxLength: 3 }),
};

/** File sizes cluster around `inline` bytes so both the inline and the spilled path are taken. */
export function requestModel(inline: number, options: { malformed: boolean }): fc.Arbitrary<RequestModel> {
  const size = fc.oneof(
    fc.integer({ min: 0, max: 8 }),
    fc.integer({ min: inline - 4, max: inline + 4 }),
    fc.integer({ min: 0, max: inline * 4 }),
  );
  const file = fc.record({
    name: fc.constantFrom("attachment[]", "attachment"),
    file: fc.record({
      filename: fileName,
      contentType,
      data: size.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    }),
    ...style,
  });
  const fieldStyle = { ...style, fieldType: fc.option(textFieldType, { nil: undefined }) };
  const field = (name: string, value: fc.Arbitrary<string>) =>
    fc.record({ name: fc.constant(name), value, ...fieldStyle });
  const receiverParts = fc
    .integer({ min: 1, max: 3 })
    .map((n) => Array.from({ length: n }, (_, i) => `r${i}@example.com`));
  const malformation = options.malformed
    ? fc.option(
        fc.constantFrom<Malformation>(
          "no-disposition",
          "no-name",
          "bare-cr-in-filename",
          "bare-lf-in-filename",
          "crlf-in-filename",
          "unsafe-in-filename",
          "too-many-headers",
          "header-too-big",
          "unknown-field",
          "duplicate-title",
          "transfer-encoding",
          "non-text-field-type",
        ),
        { nil: undefined },
      )
    : fc.constant(undefined);
  return fc
    .record({
      files: fc.array(file, { maxLength: 5 }),
      receivers: receiverParts,
      others: fc.tuple(
        field("title", fc.constantFrom("t", "月报 ✓", "a-b")),
        field("content", fc.constantFrom("<p>x</p>", "<b>ü</b>\r\n--not-a-boundary")),
      ),
      receiverStyle: fc.record(fieldStyle),
      order: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
      malformation,
      malformedAt: fc.nat(),
      unsafe: fc.record({ char: unsafeNameChar, at: fc.nat() }),
      otherFieldType,
      boundary: fc.constantFrom("----b0undary", "x", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a'()+_,-./:=?z"),
      preamble: fc.constantFrom("", "preamble text\r\n", "\r\n"),
      epilogue: options.malformed
        ? fc.constantFrom<Epilogue>(
            "none",
            "crlf",
            "text",
            "padded-text",
            "delimiter-prefix",
            "part-after-close",
            "garbage-then-part",
            "delimiter-in-text",
          )
        : fc.constantFrom<Epilogue>("none", "crlf", "text", "padded-text", "delimiter-prefix"),
      truncate: options.malformed ? fc.boolean() : fc.constant(false),
    })
    .map((r) => {
      const parts: PartModel[] = [
        ...r.others,
        ...r.receivers.map((value) => ({ name: "receiver", value, ...r.receiverStyle })),
        ...r.files,
      ];
      // a stable shuffle by the generated keys
      const shuffled = parts
        .map((part, i) => ({ part, key: r.order[i % r.order.length]! * 16 + i }))
        .sort((a, b) => a.key - b.key)
        .map(({ part }) => ({ ...part }));
      if (r.malformation) {
        const fileOnly = r.malformation.includes("filename");
        const fieldOnly = r.malformation === "non-text-field-type";
        const candidates = shuffled.filter((p) => (fileOnly ? p.file : fieldOnly ? !p.file : true));
        const target = candidates[r.malformedAt % Math.max(candidates.length, 1)];
        if (target && !(r.malformation === "duplicate-title" && target.file)) {
          target.malformation = r.malformation;
          if (r.malformation === "unsafe-in-filename") target.unsafe = r.unsafe;
          if (fieldOnly) target.fieldType = r.otherFieldType;
        }
      }
      return {
        parts: shuffled,
        boundary: r.boundary,
        preamble: r.preamble,
        epilogue: r.epilogue,
        truncate: r.truncate,
      };
    });
}

/** The request's Content-Type, the boundary quoted when it is not a token. */
export function contentTypeOf(model: RequestModel): string {
  const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(model.boundary);
  return `multipart/form-data; boundary=${token ? model.boundary : `"${model.boundary}"`}`;
}

/** Splits bytes at the given cut points (sorted, de-duplicated), as a network might. */
export function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) chunks.push(bytes.subarray(at, p));
    at = Math.max(at, p);
  }
  if (at < bytes.length) chunks.push(bytes.subarray(at));
  return chunks;
}
