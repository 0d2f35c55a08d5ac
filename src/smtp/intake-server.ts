// The optional SMTP listener (smtpIntake): apps that only speak SMTP hand mail over here.
// Clients outside smtpIntake.allow get 554 at connect; AUTH PLAIN/LOGIN against
// smtpIntake.users (clear text only without a certificate, and only from the allowed
// CIDRs); STARTTLS when a certificate is set; SIZE from server.maxBodyBytes (552). The
// raw message becomes a blob and its record is fsync'd before the 250 to the final dot.
import { timingSafeEqual, createHash } from "node:crypto";
import fs from "node:fs";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Config } from "../config.js";
import { parseListen } from "../config.js";
import { MailspoolError } from "../errors.js";
import { inCidrs, parseAddress, parseCidrs } from "../http/client-address.js";
import type { Intake } from "../intake/intake.js";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import { parseAddress as parseMailAddress } from "../address.js";
import { receiveMessage } from "./received-message.js";

export interface SmtpIntakeDeps {
  config: () => Config;
  intake: Intake;
  log: Logger;
}

const digest = (value: string) => createHash("sha256").update(value).digest();
const reply = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/** Our errors as SMTP replies: quota 451 4.7.1, disk full 452, other spool trouble 451. */
function smtpReply(error: unknown): Error {
  if (!(error instanceof MailspoolError)) return reply(451, "4.3.0 Temporary failure, try again later");
  if (error.code === "rate_limited")
    return reply(451, `4.7.1 ${error.message}; retry in ${error.retryAfterSeconds ?? 60} seconds`);
  if (error.code === "insufficient_storage") return reply(452, "4.3.1 Insufficient system storage");
  if (error.status < 500) return reply(554, `5.6.0 ${error.message}`);
  return reply(451, "4.3.0 Temporary failure, try again later");
}

export async function startSmtpIntake(deps: SmtpIntakeDeps): Promise<{ port: number; close(): Promise<void> }> {
  const settings = deps.config().smtpIntake;
  const tls = settings.tls.cert
    ? { key: fs.readFileSync(settings.tls.key), cert: fs.readFileSync(settings.tls.cert) }
    : null;
  const allow = parseCidrs(settings.allow);
  const clientOf = (session: SMTPServerSession) =>
    session.user ? `smtp:${session.user}` : `ip:${session.remoteAddress}`;
  const server = new SMTPServer({
    secure: false,
    ...(tls ?? {}),
    hideSTARTTLS: !tls,
    disabledCommands: tls ? [] : ["STARTTLS"],
    authMethods: ["PLAIN", "LOGIN"],
    authOptional: !settings.requireAuth,
    allowInsecureAuth: !tls,
    size: deps.config().server.maxBodyBytes,
    banner: "mailspool",
    logger: false,
    closeTimeout: deps.config().shutdown.graceSeconds * 1000,
    onConnect(session, callback) {
      const address = parseAddress(session.remoteAddress);
      if (!address || !inCidrs(address, allow)) return callback(reply(554, "5.7.1 Client address is not allowed"));
      callback();
    },
    onAuth(auth, _session, callback) {
      const user = deps.config().smtpIntake.users.find((u) => u.user === auth.username);
      const ok = user !== undefined && timingSafeEqual(digest(auth.password ?? ""), digest(user.pass));
      if (!ok) return callback(reply(535, "5.7.8 Authentication credentials invalid"));
      callback(null, { user: user.user });
    },
    onMailFrom(_address, session, callback) {
      try {
        deps.intake.checkQuota(clientOf(session));
        callback();
      } catch (error) {
        callback(smtpReply(error));
      }
    },
    onRcptTo(address, session, callback) {
      const parsed = parseMailAddress(address.address);
      if (!parsed.ok) return callback(reply(553, `5.1.3 Bad recipient address syntax: ${parsed.reason}`));
      if (session.envelope.rcptTo.length >= deps.config().delivery.maxRecipients)
        return callback(reply(452, "4.5.3 Too many recipients"));
      callback();
    },
    onData(stream, session, callback) {
      accept(stream, session).then(
        (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
        (error) => callback(error instanceof Error && "responseCode" in error ? error : smtpReply(error)),
      );
    },
  });
  server.on("error", (error) => deps.log.warn({ err: error }, "smtp intake connection error"));

  async function accept(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<MailId> {
    const config = deps.config();
    const mail = deps.intake.newMail();
    const message = await receiveMessage(stream, deps.intake.blobs, () => mail.messageId);
    if (stream.sizeExceeded) {
      await message.blob.discard();
      throw reply(552, `5.3.4 Message size exceeds fixed limit of ${config.server.maxBodyBytes} bytes`);
    }
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const envelope = {
      to: session.envelope.rcptTo.map((r) => r.address),
      ...(config.smtpIntake.keepSender && mailFrom ? { from: mailFrom } : {}),
    };
    await deps.intake.acceptRaw({ id: mail.id, ...message }, envelope, clientOf(session));
    deps.log.info(
      { mailId: mail.id, client: clientOf(session), recipients: envelope.to.length },
      "mail accepted over SMTP",
    );
    return mail.id;
  }

  const { host, port } = parseListen(settings.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
