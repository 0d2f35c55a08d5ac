// The optional SMTP listener (smtpIntake): apps that only speak SMTP hand mail over here.
// Clients outside smtpIntake.allow get 554 at connect; at most smtpIntake.maxClients are
// connected; AUTH PLAIN/LOGIN against smtpIntake.users (clear text only without a
// certificate, and only from the allowed CIDRs) with failures limited by auth-guard.ts;
// STARTTLS when a certificate is set; SIZE from server.maxBodyBytes. The raw message
// becomes a blob and its record is fsync'd (Intake.acceptRaw) before the 250 to the final dot.
import { timingSafeEqual, createHash } from "node:crypto";
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Config } from "../config.js";
import { parseListen } from "../config.js";
import { settleWithin } from "../time-limit.js";
import { inCidrs, parseAddress, parseCidrs } from "../http/client-address.js";
import type { Intake } from "../intake/intake.js";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import { parseAddress as parseMailAddress } from "../address.js";
import { AuthGuard, type AuthClock } from "./auth-guard.js";
import { receiveMessage } from "./received-message.js";
import { replyFor, smtpReply } from "./smtp-reply.js";

export interface SmtpIntakeDeps {
  config: () => Config;
  intake: Intake;
  log: Logger;
  /** Injected time for tests (the AUTH failure windows and delays). */
  clock?: Partial<AuthClock>;
}

/** An idle client (between commands, or silent inside DATA) is dropped with 421 after this. */
const socketTimeoutMs = 60_000;

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Sessions and DATA transfers still open this long into the grace period are cut, leaving time to clean up. */
const cutAfterMs = (graceSeconds: number) => Math.max(0, graceSeconds * 1000 - 500);

export async function startSmtpIntake(deps: SmtpIntakeDeps): Promise<{ port: number; close(): Promise<void> }> {
  const settings = deps.config().smtpIntake;
  const tls = settings.tls.cert
    ? { key: fs.readFileSync(settings.tls.key), cert: fs.readFileSync(settings.tls.cert) }
    : null;
  const allow = parseCidrs(settings.allow);
  const clock: AuthClock = {
    now: deps.clock?.now ?? Date.now,
    sleep: deps.clock?.sleep ?? ((ms) => sleep(ms, undefined, { ref: false })),
  };
  const guard = new AuthGuard(() => deps.config().smtpIntake.authFailures, clock, deps.log);
  /**
   * Each transaction's RCPT TO addresses as given: smtp-server merges two that differ only in
   * case (keeping the last), while a local part's case is part of the canonical form.
   */
  const recipients = new WeakMap<SMTPServerSession, string[]>();
  /** DATA in progress; smtp-server's close() returns without waiting for them. */
  const transfers = new Map<SMTPServerDataStream, Promise<MailId>>();
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
    maxClients: settings.maxClients,
    socketTimeout: socketTimeoutMs,
    // a reverse-DNS lookup per connection delays the greeting (up to 1.5 s with a slow
    // resolver) and tells us nothing we use
    disableReverseLookup: true,
    banner: "mailspool",
    logger: false,
    closeTimeout: cutAfterMs(deps.config().shutdown.graceSeconds),
    onConnect(session, callback) {
      const address = parseAddress(session.remoteAddress);
      if (!address || !inCidrs(address, allow)) return callback(smtpReply(554, "5.7.1 Client address is not allowed"));
      callback();
    },
    onAuth(auth, session, callback) {
      const lockedSeconds = guard.lockedFor(session.remoteAddress);
      if (lockedSeconds > 0)
        return callback(
          smtpReply(421, `4.7.0 Too many failed logins from your address, try again in ${lockedSeconds} seconds`),
        );
      const user = deps.config().smtpIntake.users.find((u) => u.user === auth.username);
      if (user !== undefined && timingSafeEqual(digest(auth.password ?? ""), digest(user.pass)))
        return callback(null, { user: user.user });
      const verdict = guard.failed(session, session.remoteAddress, auth.username ?? "");
      const reply =
        verdict.reply === 421
          ? smtpReply(421, "4.7.0 Too many failed logins, closing connection")
          : smtpReply(535, "5.7.8 Authentication credentials invalid");
      void clock.sleep(verdict.delayMs).then(() => callback(reply));
    },
    onMailFrom(address, session, callback) {
      if (deps.config().smtpIntake.keepSender && address.address) {
        const parsed = parseMailAddress(address.address);
        if (!parsed.ok) return callback(smtpReply(553, `5.1.7 Bad sender address syntax: ${parsed.reason}`));
      }
      try {
        deps.intake.checkQuota(clientOf(session));
        recipients.set(session, []);
        callback();
      } catch (error) {
        callback(replyFor(error).reply);
      }
    },
    onRcptTo(address, session, callback) {
      const parsed = parseMailAddress(address.address);
      if (!parsed.ok) return callback(smtpReply(553, `5.1.3 Bad recipient address syntax: ${parsed.reason}`));
      const given = recipients.get(session) ?? [];
      if (given.length >= deps.config().delivery.maxRecipients)
        return callback(smtpReply(452, "4.5.3 Too many recipients"));
      given.push(address.address);
      recipients.set(session, given);
      callback();
    },
    onData(stream, session, callback) {
      const accepting = accept(stream, session);
      transfers.set(stream, accepting);
      accepting
        .then(
          (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
          (error: unknown) => {
            const { reply, unexpected } = replyFor(error);
            const fields = { client: clientOf(session), code: reply.responseCode, reason: reply.message };
            if (unexpected) deps.log.error({ ...fields, err: error }, "smtp message not accepted");
            else deps.log.info(fields, "smtp message refused");
            callback(reply);
          },
        )
        .finally(() => transfers.delete(stream));
    },
  });
  server.on("error", (error) => deps.log.warn({ err: error }, "smtp intake connection error"));

  async function accept(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<MailId> {
    const config = deps.config();
    const mail = deps.intake.newMail();
    const message = await receiveMessage(stream, {
      store: deps.intake.blobs,
      maxBytes: config.server.maxBodyBytes,
      timeoutMs: config.smtpIntake.dataTimeoutSeconds * 1000,
      messageId: mail.messageId,
    });
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const envelope = {
      to: recipients.get(session) ?? session.envelope.rcptTo.map((r) => r.address),
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
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // a DATA in progress may finish within the grace period; one still arriving is then cut,
      // its temp blob removed before the spool closes (smtp-server does not wait for it)
      await settleWithin(Promise.allSettled(transfers.values()), cutAfterMs(deps.config().shutdown.graceSeconds));
      for (const stream of transfers.keys()) stream.destroy(smtpReply(421, "4.3.2 Shutting down"));
      await Promise.allSettled(transfers.values());
      await closed;
    },
  };
}
