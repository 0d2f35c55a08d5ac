// A real SMTP server on 127.0.0.1 for integration tests. Its hooks accept, defer (4xx),
// reject (5xx), drop or hang on demand, and `behaviour` is read on every command so a
// test can switch modes between sends. Only messages answered with 250 are recorded.
import type net from "node:net";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  user?: string;
  at: number;
}

/** A non-2xx reply for the command the hook was called for. */
export interface SinkRcptDecision {
  code: number;
  message: string;
}

export interface SinkBehaviour {
  /** Require AUTH PLAIN/LOGIN over clear text; wrong credentials get 535. */
  auth?: { user: string; pass: string };
  /** A decision here refuses the connection at the greeting. */
  onConnect?: () => SinkRcptDecision | undefined;
  onMailFrom?: (address: string) => SinkRcptDecision | undefined;
  onRcpt?: (address: string) => SinkRcptDecision | undefined;
  /** Reply after the final dot; "drop" closes the socket without a reply, "hang" never replies. */
  onData?: (message: SinkMessage) => SinkRcptDecision | "drop" | "hang" | undefined;
}

export interface SmtpSink {
  port: number;
  /** Accepted messages only, in order. */
  messages: SinkMessage[];
  /** The reply each hook gave (CONNECT, AUTH, MAIL FROM, RCPT TO, DATA); none for "drop"/"hang" or replies smtp-server makes itself, such as 530. */
  transactions: { command: string; code: number }[];
  behaviour: SinkBehaviour;
  /** Total connections opened so far. */
  connections: number;
  /** Polls until at least n messages were accepted; rejects on timeout. */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /** Closes the server and destroys every open (also hanging) socket. */
  close(): Promise<void>;
}

function smtpError(decision: SinkRcptDecision): Error {
  return Object.assign(new Error(decision.message), { responseCode: decision.code });
}

/** `smtpUtf8: false` hides SMTPUTF8 (RFC 6531) from EHLO, like an upstream that does not offer it. */
export async function startSmtpSink(
  behaviour: SinkBehaviour = {},
  options: { smtpUtf8?: boolean } = {},
): Promise<SmtpSink> {
  const sockets = new Set<net.Socket>();
  let closing: Promise<void> | undefined;

  const sink: SmtpSink = {
    port: 0,
    messages: [],
    transactions: [],
    behaviour,
    connections: 0,
    async waitForMessages(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (sink.messages.length < n) {
        if (Date.now() > deadline)
          throw new Error(`smtp sink: expected ${n} messages, got ${sink.messages.length} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return [...sink.messages];
    },
    close() {
      for (const socket of sockets) socket.destroy();
      closing ??= new Promise((resolve) => server.close(() => resolve()));
      return closing;
    },
  };

  // Every hook answers through here so the bookkeeping and the reply cannot disagree.
  const reply = (
    command: string,
    decision: SinkRcptDecision | undefined,
    callback: (err?: Error | null) => void,
    okCode = 250,
  ): void => {
    sink.transactions.push({ command, code: decision?.code ?? okCode });
    callback(decision ? smtpError(decision) : null);
  };

  const dropConnection = (session: SMTPServerSession): void => {
    for (const connection of server.connections) {
      if (connection.id === session.id) connection._socket.destroy();
    }
  };

  const server = new SMTPServer({
    logger: false,
    hideSTARTTLS: true,
    hideSMTPUTF8: options.smtpUtf8 === false,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    authMethods: ["PLAIN", "LOGIN"],
    // Whether AUTH is required is decided per session in onConnect, from the live behaviour.
    authOptional: false,
    disableReverseLookup: true,
    onConnect(session, callback) {
      sink.connections += 1;
      if (!sink.behaviour.auth) session.disabledCommands = ["STARTTLS", "AUTH"];
      reply("CONNECT", sink.behaviour.onConnect?.(), callback, 220);
    },
    onAuth(auth, _session, callback) {
      const expected = sink.behaviour.auth;
      const ok = expected !== undefined && auth.username === expected.user && auth.password === expected.pass;
      sink.transactions.push({ command: "AUTH", code: ok ? 235 : 535 });
      if (!ok) return callback(Object.assign(new Error("Authentication credentials invalid"), { responseCode: 535 }));
      callback(null, { user: auth.username });
    },
    onMailFrom(address, _session, callback) {
      reply("MAIL FROM", sink.behaviour.onMailFrom?.(address.address), callback);
    },
    onRcptTo(address, _session, callback) {
      reply("RCPT TO", sink.behaviour.onRcpt?.(address.address), callback);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const envelopeFrom = session.envelope.mailFrom;
        const message: SinkMessage = {
          from: envelopeFrom ? envelopeFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks),
          at: Date.now(),
          ...(typeof session.user === "string" ? { user: session.user } : {}),
        };
        const decision = sink.behaviour.onData?.(message);
        if (decision === "hang") return;
        if (decision === "drop") return dropConnection(session);
        if (!decision) sink.messages.push(message);
        reply("DATA", decision, callback);
      });
    },
  });

  // Clients that vanish mid-session (ECONNRESET) surface here; for a test sink that is
  // an expected outcome, not a reason to crash the test process.
  server.on("error", () => undefined);
  server.server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("smtp sink: no TCP address");
  sink.port = address.port;
  return sink;
}
