// A bare SMTP client on a net socket, for protocol abuse nodemailer will not commit:
// pipelined AUTH floods, DATA trickled a byte at a time, bytes split wherever a test likes,
// LF-only messages. Replies are read whole (multi-line aware) in order, with a timeout.
import net from "node:net";

export interface SmtpAnswer {
  code: number;
  text: string;
  /** When the reply's last line arrived (Date.now()). */
  at: number;
}

export class RawSmtp {
  private buffer = "";
  private partial: string[] = [];
  private readonly answers: SmtpAnswer[] = [];
  private wake: (() => void) | null = null;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (data) => {
      this.buffer += data.toString("latin1");
      for (let end = this.buffer.indexOf("\r\n"); end >= 0; end = this.buffer.indexOf("\r\n")) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        this.partial.push(line);
        if (line[3] !== "-") {
          this.answers.push({ code: Number(line.slice(0, 3)), text: this.partial.join("\n"), at: Date.now() });
          this.partial = [];
        }
      }
      this.wake?.();
    });
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  /** Connects and reads the greeting. */
  static async connect(port: number): Promise<{ client: RawSmtp; greeting: SmtpAnswer }> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new RawSmtp(socket);
    return { client, greeting: await client.reply() };
  }

  /** The next reply; rejects when the connection closes first or after timeoutMs. */
  async reply(timeoutMs = 10_000): Promise<SmtpAnswer> {
    const deadline = Date.now() + timeoutMs;
    while (this.answers.length === 0) {
      if (this.isClosed) throw new Error("connection closed without a reply");
      if (Date.now() > deadline) throw new Error("no reply in time");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.answers.shift()!;
  }

  /** Writes bytes and waits until the socket took them. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  async command(line: string, timeoutMs?: number): Promise<SmtpAnswer> {
    await this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  async authPlain(user: string, pass: string): Promise<SmtpAnswer> {
    return this.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString("base64")}`);
  }

  /** MAIL FROM and RCPT TO, each expected to get 250. */
  async envelope(from: string, to: string[]): Promise<void> {
    for (const line of [`MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`)]) {
      const answer = await this.command(line);
      if (answer.code !== 250) throw new Error(`${line}: ${answer.text}`);
    }
  }

  /** DATA with the message in the given chunks (already dot-stuffed by dataBytes); the reply to the final dot. */
  async data(chunks: Buffer[], timeoutMs?: number): Promise<SmtpAnswer> {
    const start = await this.command("DATA");
    if (start.code !== 354) return start;
    for (const chunk of chunks) await this.write(chunk);
    return this.reply(timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A message as DATA bytes: dot-stuffed, ended by CRLF (added when missing) and the final dot. */
export function dataBytes(message: Buffer): Buffer {
  const stuffed = message.toString("latin1").replace(/(^|\n)\./g, "$1..");
  return Buffer.from(`${stuffed}${stuffed.endsWith("\r\n") ? "" : "\r\n"}.\r\n`, "latin1");
}

/** What the relay receives for a message sent with dataBytes: the CRLF the framing needed is part of it. */
export const asReceived = (message: Buffer) =>
  message.toString("latin1").endsWith("\r\n") ? message : Buffer.concat([message, Buffer.from("\r\n")]);
