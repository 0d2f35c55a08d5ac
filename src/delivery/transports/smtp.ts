// SMTP delivery through the configured upstreams, in order (failover): a connection pool
// per upstream, a token bucket per upstream (waiting is not an attempt), and dailyLimit
// handing over to the next upstream. Every transaction is reported to the caller as soon
// as its reply arrives, its recipients matched by the envelope that was sent. A non-ASCII
// local part (a recipient's, or a kept sender's) goes only to an upstream that offers
// SMTPUTF8; when every upstream reached lacks it, the recipient fails for good with the reason.
import { needsSmtpUtf8 } from "../../address.js";
import type { Logger } from "../../log.js";
import type { RecipientState } from "../../types.js";
import { classifyError, recipientRejectionIsPermanent, retryHintSeconds } from "../classify.js";
import type { DailyCounter } from "../daily-counter.js";
import { TokenBucket } from "../token-bucket.js";
import { recipientErrors, SmtpPool, type SendResult } from "./smtp-pool.js";
import { RateLimited, type OutgoingMessage, type RecordTransaction, type Transport } from "./transport.js";

export interface UpstreamConfig {
  name: string;
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  user: string;
  pass: string;
  maxConnections: number;
  ratePerSecond: number;
  burst: number;
  dailyLimit: number;
  rejectUnauthorized?: boolean;
}

export interface SmtpTransportOptions {
  upstreams: readonly UpstreamConfig[];
  batchSize: number;
  connectTimeoutSeconds: number;
  socketTimeoutSeconds: number;
  daily: DailyCounter;
  log: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onBucketWait?: (upstream: string, ms: number) => void;
}

interface Upstream {
  config: UpstreamConfig;
  pool: SmtpPool;
  bucket: TokenBucket;
}

type Envelope = { from: string; to: string[] };
type Settled = { address: string; state: RecipientState; error?: string };
/** What one transaction on a lent connection came to: a reply, a failure, or nothing offered. */
type Reply = { envelope: Envelope; needUtf8: string[]; result?: SendResult; failure?: { error: unknown } };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const noSmtpUtf8 =
  "not sent: a non-ASCII local part (of this recipient or of the envelope sender) needs SMTPUTF8 (RFC 6531), and no upstream offers it";

export function smtpTransport(options: SmtpTransportOptions): Transport {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const upstreams: Upstream[] = options.upstreams.map((config) => ({
    config,
    bucket: new TokenBucket(config.ratePerSecond, config.burst, now),
    pool: new SmtpPool({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: config.requireTLS,
      rejectUnauthorized: config.rejectUnauthorized ?? true,
      user: config.user,
      pass: config.pass,
      maxConnections: config.maxConnections,
      connectTimeoutMs: options.connectTimeoutSeconds * 1000,
      socketTimeoutMs: options.socketTimeoutSeconds * 1000,
    }),
  }));

  const reserved = new Map<string, number>();
  /** Cluster mode: this host's share of the limits (1 / hosts delivering). */
  let share = 1;

  /**
   * One transaction on one upstream. Returns the recipients it settled (sent or failed for
   * good) and those it could not offer because the connection lacks SMTPUTF8. The connection
   * goes back to the pool before the transaction is recorded (another mail's send overlaps
   * the record); this mail sends nothing more until it is recorded.
   */
  async function sendVia(
    upstream: Upstream,
    message: OutgoingMessage,
    to: string[],
    record: RecordTransaction,
  ): Promise<{ settled: string[]; needUtf8: string[] }> {
    const name = upstream.config.name;
    let reply: Reply;
    try {
      reply = await upstream.pool.use(async (lease): Promise<Reply> => {
        const senderNeedsUtf8 = needsSmtpUtf8(message.envelope.from);
        const needUtf8 = lease.smtpUtf8 ? [] : senderNeedsUtf8 ? to : to.filter(needsSmtpUtf8);
        const envelope = { from: message.envelope.from, to: to.filter((a) => !needUtf8.includes(a)) };
        if (envelope.to.length === 0) return { envelope, needUtf8 };
        try {
          return { envelope, needUtf8, result: await lease.send(envelope, message.raw) };
        } catch (error) {
          return { envelope, needUtf8, failure: { error } };
        }
      });
    } catch (error) {
      // connecting or logging in failed: an upstream-level failure for the whole envelope
      return { settled: await recordFailure(name, { from: message.envelope.from, to }, error, record), needUtf8: [] };
    }
    const { envelope, needUtf8, result, failure } = reply;
    if (result) return { settled: await settle(name, envelope, result, record), needUtf8 };
    if (failure) return { settled: await recordFailure(name, envelope, failure.error, record), needUtf8 };
    return { settled: [], needUtf8 };
  }

  async function recordFailure(
    upstream: string,
    envelope: Envelope,
    error: unknown,
    record: RecordTransaction,
  ): Promise<string[]> {
    const failure = classifyError(error);
    const rejected = recipientErrors((error as { rejectedErrors?: never[] }).rejectedErrors);
    if (rejected.length && failure.command === "RCPT TO") {
      return settle(upstream, envelope, { accepted: [], rejected, response: failure.response }, record, failure.code);
    }
    const permanent = failure.kind === "envelope-permanent";
    options.log.warn(
      { upstream, code: failure.code, command: failure.command, response: failure.response },
      permanent ? "message rejected after DATA" : "upstream failed; trying the next",
    );
    await record({
      transaction: { upstream, envelope, code: failure.code, response: failure.response },
      recipients: permanent ? envelope.to.map((address) => ({ address, state: "failed-permanent" as const })) : [],
      retryHintSeconds: retryHintSeconds(failure.code, failure.response) ?? undefined,
    });
    return permanent ? envelope.to : [];
  }

  /**
   * Records the transaction. Each recipient of the envelope that was sent is settled from the
   * reply to its own RCPT TO: SMTPConnection reports them by the very strings it sent.
   */
  async function settle(
    upstream: string,
    envelope: Envelope,
    result: SendResult,
    record: RecordTransaction,
    code = replyCode(result.response),
  ): Promise<string[]> {
    const accepted = new Set(result.accepted);
    const refusals = new Map(result.rejected.map((r) => [r.recipient, r]));
    let hint: number | undefined;
    const recipients: Settled[] = envelope.to.map((address) => {
      if (accepted.has(address)) return { address, state: "sent" };
      const refusal = refusals.get(address);
      if (!refusal)
        return { address, state: "deferred", error: "the upstream's reply named no outcome for this recipient" };
      const asked = retryHintSeconds(refusal.code, refusal.response);
      if (asked !== null) hint = Math.max(hint ?? 0, asked);
      return {
        address,
        state: recipientRejectionIsPermanent(refusal.code) ? "failed-permanent" : "deferred",
        error: refusal.response,
      };
    });
    const rejectedText = result.rejected.map((r) => `${r.recipient}: ${r.response}`).join("; ");
    const response = rejectedText ? `${result.response} (rejected ${rejectedText})` : result.response;
    await record({ transaction: { upstream, envelope, code, response }, recipients, retryHintSeconds: hint });
    return recipients.filter((r) => r.state !== "deferred").map((r) => r.address);
  }

  return {
    name: "smtp",
    maxRecipientsPerEnvelope: options.batchSize,
    async send(message, record) {
      let open = [...message.envelope.to];
      let limitedUntil: number | null = null;
      let tried = false;
      // per non-ASCII recipient: how many upstreams were reached with it and lacked SMTPUTF8
      const lackedUtf8 = new Map<string, number>();
      for (const upstream of upstreams) {
        if (open.length === 0) break;
        let batch = open;
        const { dailyLimit, name } = upstream.config;
        if (dailyLimit > 0) {
          // cluster mode: the cluster's count under the limit, and this host's own under its share
          const inFlight = reserved.get(name) ?? 0;
          const left = Math.min(
            dailyLimit - options.daily.count(name, now()) - inFlight,
            Math.round(dailyLimit * share) - options.daily.ownCount(name, now()) - inFlight,
          );
          if (left <= 0) {
            const until = now() + options.daily.msUntilMidnight(now());
            limitedUntil = Math.min(limitedUntil ?? until, until);
            options.log.info({ upstream: name, dailyLimit }, "daily limit reached; handing over to the next upstream");
            continue;
          }
          batch = open.slice(0, left);
        }
        options.onBucketWait?.(name, await upstream.bucket.take(sleep));
        tried = true;
        // workers sending at once must not overshoot the daily limit between send and record
        reserved.set(name, (reserved.get(name) ?? 0) + batch.length);
        try {
          const { settled, needUtf8 } = await sendVia(upstream, message, batch, record);
          const done = new Set(settled);
          open = open.filter((address) => !done.has(address));
          for (const address of needUtf8) lackedUtf8.set(address, (lackedUtf8.get(address) ?? 0) + 1);
        } finally {
          reserved.set(name, reserved.get(name)! - batch.length);
        }
      }
      const unsendable = open.filter((address) => lackedUtf8.get(address) === upstreams.length);
      if (unsendable.length) {
        await record({
          transaction: {
            upstream: upstreams.map((u) => u.config.name).join(","),
            envelope: { from: message.envelope.from, to: unsendable },
            code: 0,
            response: noSmtpUtf8,
          },
          recipients: unsendable.map((address) => ({ address, state: "failed-permanent" as const, error: noSmtpUtf8 })),
        });
      }
      if (!tried && limitedUntil !== null) throw new RateLimited(limitedUntil);
    },
    saturated() {
      return upstreams.some((u) => u.pool.saturated);
    },
    buckets() {
      return upstreams.map(({ config, bucket }) => ({
        upstream: config.name,
        tokens: bucket.available,
        burst: config.burst,
        ratePerSecond: config.ratePerSecond,
      }));
    },
    shareLimits(fraction) {
      share = fraction;
      for (const upstream of upstreams) upstream.bucket.share(fraction);
    },
    async verify() {
      await Promise.all(upstreams.map((u) => u.pool.use(async () => undefined)));
    },
    async close() {
      for (const upstream of upstreams) upstream.pool.close();
    },
  };
}

function replyCode(response: string): number {
  const code = Number.parseInt(response.slice(0, 3), 10);
  return Number.isFinite(code) ? code : 250;
}
