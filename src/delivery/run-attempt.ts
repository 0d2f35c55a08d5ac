// One attempt for one mail: one pass over the upstreams for its open recipients, split
// into envelopes of at most the transport's batch size, `batch.delayMs` apart, with the
// MIME built and DKIM-signed once (kept in the message cache for later attempts). Each
// transaction's outcome record is appended as soon as the reply arrives, before anything
// else is sent for the mail; the attempt record closes the pass with the mail's new state.
// The common case, a last envelope whose one transaction settled all its recipients, has
// nothing sent after it: that outcome and the attempt record are written in one commit.
// While every upstream connection is busy, records linger for company (spool.ts).
import { MailspoolError } from "../errors.js";
import type { Logger } from "../log.js";
import { applyAttemptEnd, applyOutcome, type MailEntry } from "../spool/mail-index.js";
import type { OutcomeRecord } from "../spool/record.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { backoffMs, type RetryPolicy } from "./backoff.js";
import type { DkimKey } from "../config-dkim.js";
import { composeMessage } from "./compose.js";
import { signMessage } from "./dkim-sign.js";
import { mailStateAfterAttempt } from "./mail-outcome.js";
import type { Metrics } from "../metrics.js";
import type { MessageCache } from "./message-cache.js";
import { RateLimited, type TransactionResult, type Transport } from "./transports/transport.js";
import type { Webhooks } from "./webhooks.js";

export interface BatchPolicy {
  delayMs: number;
  continueOnError: boolean;
}

export interface AttemptDeps {
  spool: Spool;
  transport: Transport;
  from: string;
  dkim: readonly DkimKey[];
  retry: RetryPolicy;
  batch: BatchPolicy;
  cache: MessageCache;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  metrics?: Pick<Metrics, "transaction" | "attemptEnded">;
  /** Event webhooks: the attempt's end is written with its events. */
  events?: Pick<Webhooks, "appendWithEvents">;
}

export type AttemptEnd =
  | { kind: "final"; state: "sent" | "partial" | "failed" }
  | { kind: "retry"; at: number }
  /** Only limits stopped it: no attempt was used. */
  | { kind: "limited"; at: number }
  | { kind: "skipped" };

export async function runAttempt(id: MailId, deps: AttemptDeps): Promise<AttemptEnd> {
  const { spool, log } = deps;
  const entry = spool.index.startSending(id, deps.now());
  if (!entry) return { kind: "skipped" };
  const attempt = entry.attempts.length + 1;
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred").map((r) => r.address);
  let transactions = 0;
  let hintSeconds = 0;
  let limitedUntil: number | null = null;
  let error: string | undefined;
  const linger = () => ({ linger: deps.transport.saturated?.() ?? false });
  const recorded = (result: TransactionResult) => {
    transactions += 1;
    hintSeconds = Math.max(hintSeconds, result.retryHintSeconds ?? 0);
    const { upstream, code, envelope, response } = result.transaction;
    deps.metrics?.transaction(upstream, code, result.recipients.length === 0, response);
    log.info({ mailId: id, attempt, upstream, code, recipients: envelope.to.length }, "smtp transaction");
  };
  // the last envelope's transaction when it settled every recipient: the transport sends
  // nothing more for the mail (transport.ts), so its outcome is written with the attempt's end
  let held: Outcome | null = null;
  let lastEnvelope: string[] = [];
  const record = async (result: TransactionResult) => {
    const outcome = { result, record: outcomeRecord(id, attempt, result, deps.now()) };
    const earlier = held;
    held = null;
    if (earlier === null && settlesAll(result, lastEnvelope)) {
      held = outcome;
      return;
    }
    // a held outcome followed by another transaction (a transport breaking its contract): both, in order
    const outcomes = earlier ? [earlier, outcome] : [outcome];
    const records = outcomes.map((o) => o.record);
    await appendUntilRecorded(() => spool.appendAll(records, linger()), id, deps);
    for (const o of outcomes) recorded(o.result);
  };
  try {
    let raw = deps.cache.get(id);
    if (!raw) {
      const keys = deps.dkim;
      raw = await signMessage(await composeMessage(await spool.readAccepted(id), deps.from, spool.blobs), keys);
      // signed while a SIGHUP swapped the keys (and emptied the cache): sent, not kept
      if (deps.dkim === keys) deps.cache.set(id, raw);
    }
    const size = deps.transport.maxRecipientsPerEnvelope;
    for (let start = 0; start < open.length; start += size) {
      if (start > 0) await deps.sleep(deps.batch.delayMs);
      const to = open.slice(start, start + size);
      if (start + size >= open.length) lastEnvelope = to;
      try {
        await deps.transport.send({ id, envelope: { from: entry.envelopeFrom ?? deps.from, to }, raw }, record);
      } catch (failure) {
        if (!(failure instanceof RateLimited)) throw failure;
        limitedUntil = Math.min(limitedUntil ?? failure.until, failure.until);
      }
      const failedHere = entry.recipients.some((r) => to.includes(r.address) && r.state === "failed-permanent");
      if (failedHere && !deps.batch.continueOnError) break;
    }
  } catch (failure) {
    error = (failure as Error).message;
    log.warn({ err: failure, mailId: id, attempt }, "attempt failed");
  }
  const outcome = held as Outcome | null;
  if (transactions === 0 && outcome === null && limitedUntil !== null && error === undefined) {
    spool.index.stopSending(id);
    log.info(
      { mailId: id, until: new Date(limitedUntil).toISOString() },
      "every upstream is at its daily limit; mail waits",
    );
    return { kind: "limited", at: limitedUntil };
  }
  const recipients = outcome ? recipientsAfter(entry, outcome.record) : entry.recipients;
  const sinceReplay = attempt - entry.attemptsBeforeReplay;
  const state = mailStateAfterAttempt(recipients, sinceReplay, entry.replayBudget ?? deps.retry.attempts);
  const endedAt = deps.now();
  const at = state === "deferred" ? nextAttemptAt(endedAt, sinceReplay, hintSeconds, limitedUntil, deps) : null;
  const end = {
    type: "attempt" as const,
    id,
    ts: new Date(endedAt).toISOString(),
    attempt,
    state,
    ...(at !== null ? { nextAttemptAt: new Date(at).toISOString() } : {}),
    ...(error !== undefined ? { error } : {}),
  };
  // one commit: the held outcome (which must be recorded, whatever it takes) and the end
  const records = outcome ? [outcome.record, end] : [end];
  const write = async () => {
    if (!deps.events) return void (await spool.appendAll(records, linger()));
    const mailAfter = () => {
      const after = structuredClone(entry);
      if (outcome) applyOutcome(after, outcome.record);
      applyAttemptEnd(after, end);
      return after;
    };
    await deps.events.appendWithEvents(records, mailAfter, linger());
  };
  if (outcome) {
    await appendUntilRecorded(write, id, deps);
    recorded(outcome.result);
  } else await write();
  // one info line per transaction is the contract; the attempt's end is news only when it is not a success
  log[state === "sent" ? "debug" : "info"]({ mailId: id, attempt, state }, "attempt ended");
  deps.metrics?.attemptEnded(state);
  if (state !== "deferred") deps.cache.delete(id);
  return at === null ? { kind: "final", state: state as "sent" | "partial" | "failed" } : { kind: "retry", at };
}

interface Outcome {
  result: TransactionResult;
  record: Omit<OutcomeRecord, "v">;
}

function outcomeRecord(id: MailId, attempt: number, result: TransactionResult, now: number): Outcome["record"] {
  const { transaction, recipients } = result;
  return { type: "outcome", id, ts: new Date(now).toISOString(), attempt, transaction, recipients };
}

/** The transaction settled (sent or failed for good) every recipient of `envelope`. */
function settlesAll(result: TransactionResult, envelope: string[]): boolean {
  if (envelope.length === 0 || result.transaction.envelope.to.length !== envelope.length) return false;
  const settled = new Set(result.recipients.filter((r) => r.state !== "deferred").map((r) => r.address));
  return envelope.every((address) => settled.has(address));
}

/** The recipients as they will be once `outcome` is folded (the entry itself is left as it is). */
function recipientsAfter(entry: MailEntry, outcome: Outcome["record"]): MailEntry["recipients"] {
  const after = { ...entry, recipients: entry.recipients.map((r) => ({ ...r })), attempts: [] };
  applyOutcome(after, outcome);
  return after.recipients;
}

const recordRetryMs = 10 * 60_000;

/**
 * What an upstream answered must be recorded, not sent again: while the spool cannot take
 * the outcome (disk full, I/O error) the append is retried, for up to ten minutes.
 */
async function appendUntilRecorded(append: () => Promise<unknown>, id: MailId, deps: AttemptDeps): Promise<void> {
  const deadline = deps.now() + recordRetryMs;
  for (let tries = 0; ; tries += 1) {
    try {
      await append();
      return;
    } catch (error) {
      const retryable =
        error instanceof MailspoolError && (error.code === "insufficient_storage" || error.code === "unavailable");
      if (!retryable || deps.now() > deadline) throw error;
      if (tries === 0)
        deps.log.error(
          { err: error, mailId: id },
          "cannot record an upstream's answer; retrying the record, not the send",
        );
      await deps.sleep(1000);
    }
  }
}

/** Backoff with jitter, stretched to a 4xx's asked-for delay or a daily limit, capped at retry.maxSeconds. */
function nextAttemptAt(
  now: number,
  attempt: number,
  hintSeconds: number,
  limitedUntil: number | null,
  deps: AttemptDeps,
): number {
  const wait = Math.max(
    backoffMs(attempt, deps.retry, deps.random),
    Math.min(hintSeconds, deps.retry.maxSeconds) * 1000,
  );
  return Math.max(now + wait, limitedUntil ?? 0);
}
