// Writes out a MIME tree that nodemailer's MailComposer compiled, without streams. Its own
// build() pipes every node through a PassThrough, an encoder Transform, a pipeline and a
// setImmediate per step: for a small message that machinery costs more than the encoding.
// Here the same node methods make the same headers (buildHeaders, getTransferEncoding) and
// the same encoders (qp.encode + qp.wrap the way its qp.Encoder calls them, base64.encode +
// base64.wrap at 76 columns) make the same body lines, so the bytes equal build()'s (mime-build.test.ts compares them).
// A tree this does not cover — stream or file content, raw nodes, transforms, a newline
// option, quoted-printable outside text/*, text past one encoder slice — returns null, and
// the caller uses build(). MimeNode spells a header name (a chain of regular expressions)
// every time it sets or reads that header: the spelling depends on the name alone, so it is
// memoized here for every MimeNode (bounded).
import { encode as base64Encode, wrap as base64Wrap } from "nodemailer/lib/base64/index.js";
import MimeNode from "nodemailer/lib/mime-node/index.js";
import { encode as qpEncode, wrap as qpWrap } from "nodemailer/lib/qp/index.js";

const maxSpellings = 1000;
const spellings = new Map<string, string>();
const mimeNode = MimeNode.prototype as unknown as { _normalizeHeaderKey(key: unknown): string };
const spell = mimeNode._normalizeHeaderKey;
mimeNode._normalizeHeaderKey = function (this: unknown, key: unknown): string {
  if (typeof key !== "string") return spell.call(this, key);
  let spelled = spellings.get(key);
  if (spelled === undefined) {
    spelled = spell.call(this, key);
    if (spellings.size < maxSpellings) spellings.set(key, spelled);
  }
  return spelled;
};

/** The QP encoder works in slices of 64 KiB; one slice encodes exactly as qp.encode does. */
const qpSliceBytes = 64 * 1024;
const lineLength = 76;

interface NodeInternals {
  content?: unknown;
  childNodes: NodeInternals[];
  multipart: string | false;
  boundary: string | false;
  contentType?: string;
  newline?: unknown;
  _raw?: unknown;
  _transforms: unknown[];
  _processFuncs: unknown[];
  buildHeaders(): string;
  getTransferEncoding(): string | false;
}

/** The message build() would make of `root`, or null when the tree is not one this covers. */
export function buildMimeSync(root: MimeNode): Buffer | null {
  const node = root as unknown as NodeInternals;
  if (node.newline || node._transforms.length || node._processFuncs.length) return null;
  // one string, encoded once: headers and 7bit text as UTF-8 (as build() writes them), the rest is ASCII
  const parts: string[] = [];
  if (!writeNode(node, parts)) return null;
  // build() ends the message with a line break (its LastNewline transform)
  let last: string | undefined;
  for (let i = parts.length - 1; i >= 0 && last === undefined; i--) last = parts[i]!.at(-1);
  if (last !== "\n") parts.push(last === "\r" ? "\n" : "\r\n");
  return Buffer.from(parts.join(""), "utf8");
}

/** One node as MimeNode.stream() writes it: headers, encoded content, then its children between boundaries. */
function writeNode(node: NodeInternals, parts: string[]): boolean {
  if (node._raw) return false;
  const transferEncoding = node.getTransferEncoding();
  parts.push(`${node.buildHeaders()}\r\n\r\n`);
  const { content } = node;
  if (content) {
    if (typeof content !== "string" && !Buffer.isBuffer(content)) return false;
    if (transferEncoding === "base64") {
      parts.push(base64Wrap(base64Encode(content), lineLength));
    } else if (transferEncoding === "quoted-printable") {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      // outside text/* the encoder keeps only CRLF pairs literal (its binary mode): not covered here
      if (bytes.length > qpSliceBytes || !/^text\//i.test(node.contentType ?? "")) return false;
      parts.push(quotedPrintable(bytes));
    } else {
      // bytes passed as they are need not be UTF-8: not covered here
      if (typeof content !== "string") return false;
      parts.push(content);
    }
  }
  if (node.multipart) {
    for (let i = 0; i < node.childNodes.length; i++) {
      parts.push(`${i > 0 ? "\r\n" : ""}--${node.boundary}\r\n`);
      if (!writeNode(node.childNodes[i]!, parts)) return false;
    }
    parts.push(`\r\n--${node.boundary}--\r\n`);
  }
  return true;
}

const isWhitespace = (byte: number | undefined) => byte === 0x20 || byte === 0x09;

/**
 * What nodemailer's qp.Encoder makes of one chunk of at most one slice: trailing spaces and
 * tabs are held back until the end of input and encoded after the rest, each piece wrapped
 * onto the line the previous one left open, and the last line written out unwrapped.
 */
function quotedPrintable(bytes: Buffer): string {
  let end = bytes.length;
  while (end > 0 && isWhitespace(bytes[end - 1])) end -= 1;
  let out = "";
  let line = "";
  for (const piece of [bytes.subarray(0, end), bytes.subarray(end)]) {
    if (piece.length === 0) continue;
    const wrapped = qpWrap(line + qpEncode(piece), lineLength);
    const lastLf = wrapped.lastIndexOf("\n");
    line = wrapped.substring(lastLf + 1);
    out += wrapped.substring(0, lastLf + 1);
  }
  return out + line;
}
