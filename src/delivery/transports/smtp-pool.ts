// Pooled connections to one upstream over nodemailer's SMTPConnection. The pool is ours,
// not nodemailer's SMTPPool, because that one sends a message through its Mail layer,
// which re-parses, de-duplicates and re-encodes envelope addresses (a recipient could go
// out under another spelling, or not at all), and because a connection's extensions must
// be known before a message uses it (SMTPUTF8 for a non-ASCII local part).
import type { Readable, Writable } from "node:stream";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";

export interface PoolOptions {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  rejectUnauthorized: boolean;
  user: string;
  pass: string;
  maxConnections: number;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
}

export interface SendResult {
  /** The envelope's recipients the upstream took, exactly as they were sent. */
  accepted: string[];
  /** Recipients refused at RCPT TO with their reply. */
  rejected: { recipient: string; code: number; response: string }[];
  response: string;
}

/** One connection lent out for one transaction. */
export interface Lease {
  /** The upstream offers SMTPUTF8 (RFC 6531) on this connection. */
  readonly smtpUtf8: boolean;
  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SendResult>;
}

interface Pooled {
  connection: SMTPConnection;
  dead: boolean;
  used: boolean;
}

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; rejectedErrors?: RecipientError[] };
type RecipientError = { recipient?: string; responseCode?: number; response?: string };

export class SmtpPool {
  private readonly idle: Pooled[] = [];
  private readonly waiting: (() => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Runs one transaction on a pooled connection (a fresh one when a reused one had gone stale). */
  async use<T>(work: (lease: Lease) => Promise<T>): Promise<T> {
    const pooled = await this.acquire();
    let reusable = true;
    try {
      return await work({
        smtpUtf8: supportsSmtpUtf8(pooled.connection),
        send: async (envelope, raw) => {
          try {
            return await this.send(pooled, envelope, raw);
          } catch (error) {
            reusable = refusedOnly(error as SmtpError) && (await reset(pooled.connection));
            throw error;
          }
        },
      });
    } finally {
      this.release(pooled, reusable);
    }
  }

  /** Every connection is lent out, or mails wait for one. */
  get saturated(): boolean {
    return this.waiting.length > 0 || (this.idle.length === 0 && this.open >= this.options.maxConnections);
  }

  close(): void {
    this.closed = true;
    for (const pooled of this.idle.splice(0)) this.discard(pooled);
    for (const wake of this.waiting.splice(0)) wake();
  }

  private async send(pooled: Pooled, envelope: { from: string; to: string[] }, raw: Buffer): Promise<SendResult> {
    const message = new MessageBytes(raw);
    try {
      return await sendOn(pooled.connection, envelope, message);
    } catch (error) {
      // a reused connection the server had closed, before a byte of the message went out: once more, on a new one
      if (!pooled.used || message.started || !isConnectionError(error as SmtpError)) throw error;
      pooled.dead = true;
      const fresh = await this.connect();
      try {
        return await sendOn(fresh.connection, envelope, new MessageBytes(raw));
      } finally {
        this.discard(fresh);
      }
    } finally {
      pooled.used = true;
    }
  }

  private async acquire(): Promise<Pooled> {
    for (;;) {
      if (this.closed) throw Object.assign(new Error("upstream pool is closed"), { code: "ECONNECTION" });
      const pooled = this.idle.pop();
      if (pooled && !pooled.dead) return pooled;
      if (pooled) continue;
      if (this.open < this.options.maxConnections) return this.connect();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(pooled: Pooled, reusable: boolean): void {
    if (reusable && !pooled.dead && !this.closed) this.idle.push(pooled);
    else this.discard(pooled);
    this.waiting.shift()?.();
  }

  private discard(pooled: Pooled): void {
    if (!pooled.dead) {
      pooled.dead = true;
      pooled.connection.quit();
      pooled.connection.close();
    }
  }

  private async connect(): Promise<Pooled> {
    const o = this.options;
    const connection = new SMTPConnection({
      host: o.host,
      port: o.port,
      secure: o.secure,
      requireTLS: o.requireTLS,
      connectionTimeout: o.connectTimeoutMs,
      greetingTimeout: o.connectTimeoutMs,
      socketTimeout: o.socketTimeoutMs,
      tls: { rejectUnauthorized: o.rejectUnauthorized },
      logger: false,
    });
    const pooled: Pooled = { connection, dead: false, used: false };
    this.open += 1;
    // an idle connection the server closes (or that times out) is dropped, never reused
    connection.on("error", () => (pooled.dead = true));
    connection.once("end", () => {
      pooled.dead = true;
      this.open -= 1;
      this.waiting.shift()?.();
    });
    // a refused or timed-out connection is reported as an 'error' event, not to connect()'s callback
    let failed: (error: Error) => void = () => undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        failed = reject;
        connection.once("error", failed);
        connection.connect((error) => {
          if (error) return reject(error);
          if (!o.user) return resolve();
          connection.login({ user: o.user, pass: o.pass }, (loginError) =>
            loginError ? reject(loginError) : resolve(),
          );
        });
      });
    } catch (error) {
      this.discard(pooled);
      throw error;
    } finally {
      connection.off("error", failed);
    }
    return pooled;
  }
}

/**
 * The composed message handed to SMTPConnection.send, which pipes anything with a pipe()
 * into its DATA stream once the envelope was accepted (and never otherwise). A Readable
 * would do the same at the cost of a stream per message; this also tells whether the
 * message had started to go out, which decides if a failed send may be tried again.
 */
class MessageBytes {
  started = false;

  constructor(private readonly raw: Buffer) {}

  pipe<T extends Writable>(destination: T): T {
    this.started = true;
    destination.end(this.raw);
    return destination;
  }
}

function sendOn(
  connection: SMTPConnection,
  envelope: { from: string; to: string[] },
  message: MessageBytes,
): Promise<SendResult> {
  return new Promise((resolve, reject) =>
    // a copy: SMTPConnection keeps its bookkeeping on the envelope object it is given
    connection.send({ from: envelope.from, to: [...envelope.to] }, message as unknown as Readable, (error, info) => {
      if (error) return reject(error);
      resolve({
        accepted: info.accepted.map(String),
        rejected: recipientErrors(info.rejectedErrors as RecipientError[] | undefined),
        response: String(info.response ?? "250"),
      });
    }),
  );
}

export function recipientErrors(errors: RecipientError[] | undefined): SendResult["rejected"] {
  return (errors ?? [])
    .filter((e) => typeof e.recipient === "string")
    .map((e) => ({
      recipient: e.recipient!,
      code: e.responseCode ?? 0,
      response: e.response ?? String(e.responseCode ?? ""),
    }));
}

/** The server refused the message or its envelope (not the connection): the session can be reset and reused. */
function refusedOnly(error: SmtpError): boolean {
  return (error.code === "EENVELOPE" || error.code === "EMESSAGE") && error.responseCode !== 421;
}

function isConnectionError(error: SmtpError): boolean {
  return (
    error.responseCode === undefined && ["ECONNECTION", "ESOCKET", "ETIMEDOUT", "EPROTOCOL"].includes(error.code ?? "")
  );
}

function reset(connection: SMTPConnection): Promise<boolean> {
  return new Promise((resolve) => connection.reset((error) => resolve(!error)));
}

/** SMTPConnection keeps the EHLO extensions in a field it does not document; a missing field reads as "not offered". */
function supportsSmtpUtf8(connection: SMTPConnection): boolean {
  const extensions = (connection as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
  return Array.isArray(extensions) && extensions.includes("SMTPUTF8");
}
