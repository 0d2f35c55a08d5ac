// Where a message's header section ends, read as the bytes arrive in chunks of any size.
// The first line decides (RFC 5322 section 2.2): a header field ("Name:", obsolete
// "Name :" too) starts a header section that runs to the first empty line; an empty first
// line is an empty header section; anything else means the message has no header section
// and is all body. The line ending of the first line is the one an added header uses.
import { MailspoolError } from "../errors.js";

export type HeadKind = "fields" | "empty" | "none";

export interface MessageHead {
  kind: HeadKind;
  /** Every byte received so far: the header section and possibly the start of the body. */
  held: Buffer;
  /** Length of the header section including its empty line ("fields" only; else 0). */
  headerEnd: number;
  eol: "\r\n" | "\n";
}

export interface HeadLimits {
  maxBytes: number;
  maxLines: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const isFieldNameByte = (b: number) => b >= 33 && b <= 126 && b !== COLON;
const isBlank = (b: number) => b === 0x20 || b === 0x09;

/** Feed it chunks until it returns the head; call end() if the message ends first. */
export class HeadReader {
  private readonly chunks: Buffer[] = [];
  private held = 0;
  private kind: HeadKind | undefined;
  /** Progress through the first line while its kind is unknown. */
  private firstLine: "start" | "cr" | "name" | "blank" = "start";
  private lineBytes = 0;
  private lines = 0;
  private previous = -1;
  private eol: "\r\n" | "\n" | undefined;

  constructor(private readonly limits: HeadLimits) {}

  /** The head once it is known, else undefined; throws a 554-class error for a header section over the limits. */
  feed(chunk: Buffer): MessageHead | undefined {
    this.chunks.push(chunk);
    const base = this.held;
    this.held += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      if (base + i >= this.limits.maxBytes) {
        if (this.kind === "fields") throw this.tooLarge();
        // a first line this long holds no header field: it is body, and its line ending is unknown
        this.kind = "none";
        return this.result(0);
      }
      const b = chunk[i]!;
      if (this.kind === undefined) this.classify(b);
      if (b === LF) {
        const empty = this.lineBytes === 0 || (this.lineBytes === 1 && this.previous === CR);
        this.eol ??= this.lineBytes > 0 && this.previous === CR ? "\r\n" : "\n";
        if (this.kind === undefined) this.kind = empty ? "empty" : "none";
        if (this.kind !== "fields") return this.result(0);
        if (empty) return this.result(base + i + 1);
        if (++this.lines > this.limits.maxLines) throw this.tooLarge();
        this.lineBytes = 0;
      } else this.lineBytes++;
      this.previous = b;
    }
    return undefined;
  }

  /** The message ended before its head was known: all of it is header section, or body. */
  end(): MessageHead {
    this.kind ??= "none";
    return this.result(this.kind === "fields" ? this.held : 0);
  }

  private classify(b: number): void {
    const state = this.firstLine;
    if (b === LF) return;
    if (state === "start" && b === CR) this.firstLine = "cr";
    else if ((state === "start" || state === "name") && isFieldNameByte(b)) this.firstLine = "name";
    else if ((state === "name" || state === "blank") && isBlank(b)) this.firstLine = "blank";
    else if ((state === "name" || state === "blank") && b === COLON) this.kind = "fields";
    else this.kind = "none";
  }

  private result(headerEnd: number): MessageHead {
    return { kind: this.kind!, held: Buffer.concat(this.chunks, this.held), headerEnd, eol: this.eol ?? "\r\n" };
  }

  private tooLarge(): MailspoolError {
    return new MailspoolError(
      "too_large",
      `Message header section too large (the limit is ${this.limits.maxBytes} bytes and ${this.limits.maxLines} lines)`,
    );
  }
}

/** What goes in front of the message so that it has exactly one Message-ID and its body stays body. */
export function messageIdPrefix(head: MessageHead, messageId: string): Buffer {
  const line = `Message-ID: ${messageId}${head.eol}`;
  return Buffer.from(head.kind === "none" ? line + head.eol : line);
}
