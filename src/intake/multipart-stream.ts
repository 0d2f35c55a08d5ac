// A streaming multipart body tokenizer (RFC 2046 §5.1, RFC 7578): preamble, CRLF--boundary
// delimiters with optional transport padding, part header blocks, part bodies, the close
// delimiter and the epilogue. The close delimiter may be followed only by transport padding
// and CRLF (or the end), and the epilogue is read to its end: one that holds the delimiter
// again (a part sent after the close) is a 400, never a part dropped. Bodies are found with
// Buffer.indexOf over the chunk plus a carried tail no longer than a delimiter, and handed
// on as views of the chunks that came in, so a part of any size passes through a bounded
// window. The scanner is synchronous: `push(chunk)` is a generator of the events that chunk
// completes, and the consumer handles (and awaits, when it must) each event before the
// next one is scanned and before the next chunk is read: that is the backpressure. No
// promise is made per event, only per chunk the consumer reads.
import { invalidField } from "../errors.js";
import { partError } from "./part-head.js";

export type MultipartEvent =
  { type: "part"; index: number; header: Buffer } | { type: "data"; data: Buffer } | { type: "end" };

export interface MultipartLimits {
  maxHeaderBytes: number;
  maxParts: number;
}

const crlf = Buffer.from("\r\n");
const headerEnd = Buffer.from("\r\n\r\n");
const maxPaddingBytes = 256;

export class MultipartScanner {
  private readonly delimiter: Buffer;
  // a body may open with its first delimiter, without the CRLF that precedes the others:
  // the scan starts as if that CRLF had come (first() skips the copy when it can)
  private buffer: Buffer = crlf;
  private started = false;
  private state = "preamble" as "preamble" | "delimiter" | "header" | "body" | "close" | "epilogue";
  private index = -1;

  constructor(
    boundary: string,
    private readonly limits: MultipartLimits,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, "latin1");
  }

  /** The events `chunk` completes, in order; run it to its end before the next push. */
  *push(chunk: Uint8Array): Generator<MultipartEvent> {
    const { delimiter, limits } = this;
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let buffer: Buffer;
    let at = 0;
    if (!this.started && view.length >= delimiter.length) {
      // a first chunk that holds a whole delimiter needs no CRLF in front of it: the body
      // opens with "--boundary" (delimiter found at 0) or any delimiter in it has its own
      this.started = true;
      buffer = view;
      if (view.compare(delimiter, 2, delimiter.length, 0, delimiter.length - 2) === 0) {
        at = delimiter.length - 2;
        this.state = "delimiter";
      }
    } else {
      this.started = true;
      buffer = this.buffer.length === 0 ? view : Buffer.concat([this.buffer, view]);
    }
    scan: for (;;) {
      switch (this.state) {
        case "preamble":
        case "epilogue": {
          const found = buffer.indexOf(delimiter, at);
          if (found < 0) {
            at = Math.max(at, buffer.length - delimiter.length + 1);
            break scan;
          }
          if (this.state === "epilogue")
            throw invalidField("body", "content after the closing boundary (another part)");
          at = found + delimiter.length;
          this.state = "delimiter";
          break;
        }
        case "delimiter": {
          if (buffer.length - at < 2) break scan;
          if (buffer[at] === 0x2d && buffer[at + 1] === 0x2d) {
            at += 2;
            this.state = "close";
            break;
          }
          const lineEnd = buffer.indexOf(crlf, at);
          if (lineEnd < 0) {
            if (buffer.length - at > maxPaddingBytes) throw malformedDelimiter();
            break scan;
          }
          if (!isPadding(buffer, at, lineEnd)) throw malformedDelimiter();
          at = lineEnd + 2;
          this.index += 1;
          if (this.index >= limits.maxParts) throw invalidField("body", `too many parts (at most ${limits.maxParts})`);
          this.state = "header";
          break;
        }
        case "header": {
          if (buffer.length - at < 2) break scan;
          // the blank line that ends the block: right away (no headers at all) or after them
          let stop = at;
          if (buffer[at] !== 0x0d || buffer[at + 1] !== 0x0a) {
            stop = buffer.indexOf(headerEnd, at);
            if (stop < 0) {
              if (buffer.length - at > limits.maxHeaderBytes) throw headerTooLarge(this.index, limits);
              break scan;
            }
            if (stop - at > limits.maxHeaderBytes) throw headerTooLarge(this.index, limits);
          }
          yield { type: "part", index: this.index, header: buffer.subarray(at, stop) };
          at = stop === at ? at + 2 : stop + 4;
          this.state = "body";
          break;
        }
        case "close": {
          const lineEnd = buffer.indexOf(crlf, at);
          if (lineEnd < 0) {
            // a CR at the very end may begin the CRLF
            const end = buffer[buffer.length - 1] === 0x0d ? buffer.length - 1 : buffer.length;
            if (end - at > maxPaddingBytes || !isPadding(buffer, at, end)) throw malformedClose();
            break scan;
          }
          if (!isPadding(buffer, at, lineEnd)) throw malformedClose();
          // the epilogue begins with this CRLF: a delimiter right after it is one too
          at = lineEnd;
          this.state = "epilogue";
          break;
        }
        case "body": {
          const found = buffer.indexOf(delimiter, at);
          if (found >= 0) {
            if (found > at) yield { type: "data", data: buffer.subarray(at, found) };
            yield { type: "end" };
            at = found + delimiter.length;
            this.state = "delimiter";
            break;
          }
          const keep = partialDelimiterAt(buffer, at, delimiter);
          if (keep > at) yield { type: "data", data: buffer.subarray(at, keep) };
          at = keep;
          break scan;
        }
      }
    }
    this.buffer = buffer.subarray(at);
  }

  /** The body ended: throws unless it ended after the close delimiter. */
  end(): void {
    const { buffer, state } = this;
    if (state === "close" && !isPadding(buffer, 0, buffer.length)) throw malformedClose();
    if (state !== "epilogue" && state !== "close")
      throw invalidField(
        "body",
        state === "preamble"
          ? "no multipart boundary found in the body"
          : "the multipart body is truncated (no closing boundary)",
      );
  }
}

/** Where a tail that could be the start of the next delimiter begins (buffer.length when none). */
function partialDelimiterAt(buffer: Buffer, from: number, delimiter: Buffer): number {
  const start = Math.max(from, buffer.length - delimiter.length + 1);
  for (let cr = buffer.indexOf(0x0d, start); cr >= 0; cr = buffer.indexOf(0x0d, cr + 1))
    if (buffer.compare(delimiter, 0, buffer.length - cr, cr) === 0) return cr;
  return buffer.length;
}

function isPadding(buffer: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buffer[i] !== 0x20 && buffer[i] !== 0x09) return false;
  return true;
}

function malformedDelimiter() {
  return invalidField("body", "a boundary line is followed by something other than CRLF or --");
}

function malformedClose() {
  return invalidField("body", "the closing boundary is followed by something other than CRLF");
}

function headerTooLarge(index: number, limits: MultipartLimits) {
  return partError(index, `part headers exceed ${limits.maxHeaderBytes} bytes`);
}
