// SMTP delivery through the configured upstreams, in order (failover): one pooled
// nodemailer transport per upstream, a token bucket per upstream (waiting is not an
// attempt), and dailyLimit handing over to the next upstream. Every transaction is
// reported to the caller as soon as its reply arrives.
import nodemailer, { type Mail } from "nodemailer";
import type { Logger } from "../../log.js";
import type { RecipientState } from "../../types.js";
import { classifyError, recipientRejectionIsPermanent, retryHintSeconds } from "../classify.js";
import type { DailyCounter } from "../daily-counter.js";
import { TokenBucket } from "../token-bucket.js";
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
  mailer: Mail;
  bucket: TokenBucket;
}

interface RejectedRecipient {
  recipient?: string;
  responseCode?: number;
  response?: string;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function smtpTransport(options: SmtpTransportOptions): Transport {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const upstreams: Upstream[] = options.upstreams.map((config) => ({
    config,
    bucket: new TokenBucket(config.ratePerSecond, config.burst, now),
    mailer: nodemailer.createTransport({
      pool: true,
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: config.requireTLS,
      auth: config.user ? { user: config.user, pass: config.pass } : undefined,
      maxConnections: config.maxConnections,
      maxMessages: Number.POSITIVE_INFINITY,
      connectionTimeout: options.connectTimeoutSeconds * 1000,
      greetingTimeout: options.connectTimeoutSeconds * 1000,
      socketTimeout: options.socketTimeoutSeconds * 1000,
      tls: { rejectUnauthorized: config.rejectUnauthorized ?? true },
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    }),
  }));

  const reserved = new Map<string, number>();

  async function sendVia(
    upstream: Upstream,
    message: OutgoingMessage,
    to: string[],
    record: RecordTransaction,
  ): Promise<string[]> {
    const envelope = { from: message.envelope.from, to };
    const name = upstream.config.name;
    try {
      const info = await upstream.mailer.sendMail({ envelope, raw: message.raw });
      const rejected = ((info as { rejectedErrors?: RejectedRecipient[] }).rejectedErrors ?? []) as RejectedRecipient[];
      const response = String(info.response ?? "250");
      return await settle(
        name,
        envelope,
        replyCode(response),
        response,
        (info.accepted as string[]).map(String),
        rejected,
        record,
      );
    } catch (error) {
      const rejected = (error as { rejectedErrors?: RejectedRecipient[] }).rejectedErrors;
      const failure = classifyError(error);
      if (rejected && failure.command === "RCPT TO")
        return settle(name, envelope, failure.code, failure.response, [], rejected, record);
      const permanent = failure.kind === "envelope-permanent";
      options.log.warn(
        { upstream: name, code: failure.code, command: failure.command, response: failure.response },
        permanent ? "message rejected after DATA" : "upstream failed; trying the next",
      );
      await record({
        transaction: { upstream: name, envelope, code: failure.code, response: failure.response },
        recipients: permanent ? to.map((address) => ({ address, state: "failed-permanent" as const })) : [],
        retryHintSeconds: retryHintSeconds(failure.code, failure.response) ?? undefined,
      });
      return permanent ? to : [];
    }
  }

  /** Records the transaction; returns the recipients it settled (sent or failed for good). */
  async function settle(
    upstream: string,
    envelope: { from: string; to: string[] },
    code: number,
    response: string,
    accepted: string[],
    rejected: RejectedRecipient[],
    record: RecordTransaction,
  ): Promise<string[]> {
    const recipients: { address: string; state: RecipientState; error?: string }[] = accepted.map((address) => ({
      address,
      state: "sent",
    }));
    let hint: number | undefined;
    for (const r of rejected) {
      if (!r.recipient) continue;
      const rcode = r.responseCode ?? 0;
      recipients.push({
        address: r.recipient,
        state: recipientRejectionIsPermanent(rcode) ? "failed-permanent" : "deferred",
        error: r.response ?? String(rcode),
      });
      const asked = retryHintSeconds(rcode, r.response ?? "");
      if (asked !== null) hint = Math.max(hint ?? 0, asked);
    }
    const rejectedText = rejected.map((r) => `${r.recipient}: ${r.response ?? r.responseCode}`).join("; ");
    await record({
      transaction: {
        upstream,
        envelope,
        code,
        response: rejectedText ? `${response} (rejected ${rejectedText})` : response,
      },
      recipients,
      retryHintSeconds: hint,
    });
    return recipients.filter((r) => r.state !== "deferred").map((r) => r.address);
  }

  return {
    name: "smtp",
    maxRecipientsPerEnvelope: options.batchSize,
    async send(message, record) {
      let open = [...message.envelope.to];
      let limitedUntil: number | null = null;
      let tried = false;
      for (const upstream of upstreams) {
        if (open.length === 0) break;
        let batch = open;
        const { dailyLimit, name } = upstream.config;
        if (dailyLimit > 0) {
          const left = dailyLimit - options.daily.count(name, now()) - (reserved.get(name) ?? 0);
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
          const settled = new Set(await sendVia(upstream, message, batch, record));
          open = open.filter((address) => !settled.has(address));
        } finally {
          reserved.set(name, reserved.get(name)! - batch.length);
        }
      }
      if (!tried && limitedUntil !== null) throw new RateLimited(limitedUntil);
    },
    async verify() {
      await Promise.all(upstreams.map((u) => u.mailer.verify()));
    },
    async close() {
      for (const upstream of upstreams) upstream.mailer.close();
    },
  };
}

function replyCode(response: string): number {
  const code = Number.parseInt(response.slice(0, 3), 10);
  return Number.isFinite(code) ? code : 250;
}
