// The transport contract (after nodemailer's): deliver one message to one envelope,
// reporting each SMTP transaction as soon as its reply arrives so the caller can record
// it before doing anything else (the duplicate window stays one append wide). Once a
// transaction has settled every recipient of the envelope, send() returns without another:
// the caller may then write that outcome together with what ends the attempt.
import type { MailId, RecipientState, Transaction } from "../../types.js";

export interface OutgoingMessage {
  id: MailId;
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

export interface TransactionResult {
  transaction: Transaction;
  recipients: { address: string; state: RecipientState; error?: string }[];
  /** Seconds a 4xx reply asked us to wait, if it said. */
  retryHintSeconds?: number;
}

export interface UpstreamBucket {
  upstream: string;
  /** Tokens now (fractional; negative while takers wait on reservations). */
  tokens: number;
  burst: number;
  ratePerSecond: number;
}

export type RecordTransaction = (result: TransactionResult) => Promise<void>;

export interface Transport {
  readonly name: string;
  /** Most recipients one envelope may carry (batch.size for SMTP). */
  readonly maxRecipientsPerEnvelope: number;
  /**
   * Delivers to as many of the envelope's recipients as it can, calling `record` after every
   * transaction. Recipients no transaction settled stay open. Throws RateLimited when only
   * limits (daily caps) kept it from trying at all.
   */
  send(message: OutgoingMessage, record: RecordTransaction): Promise<void>;
  /**
   * Every connection of an upstream is in use or waited for: more transactions end within a
   * moment, so a record may linger for their company in one commit (SMTP only).
   */
  saturated?(): boolean;
  /** Each upstream's token bucket now (SMTP only). */
  buckets?(): UpstreamBucket[];
  /** Cluster mode: this host's share of every upstream's rate and burst. */
  shareLimits?(fraction: number): void;
  verify(): Promise<void>;
  close(): Promise<void>;
}

/** Limits delay mail, they never fail it and never count as an attempt. */
export class RateLimited extends Error {
  constructor(readonly until: number) {
    super(`rate limited until ${new Date(until).toISOString()}`);
    this.name = "RateLimited";
  }
}
