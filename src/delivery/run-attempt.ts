// One attempt for one mail: one pass over the upstreams for its open recipients, split
// into envelopes of at most the transport's batch size, `batch.delayMs` apart, with the
// MIME built and DKIM-signed once (kept in the message cache for later attempts). Each
// transaction's outcome record is appended as soon as the reply arrives; the attempt
// record closes the pass with the mail's new state.
import { MailspoolError } from "../errors.js";
import type { Logger } from "../log.js";
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
  const record = async (result: TransactionResult) => {
    await appendUntilRecorded(
      () =>
        spool.append({ type: "outcome", id, attempt, transaction: result.transaction, recipients: result.recipients }),
      id,
      deps,
    );
    transactions += 1;
    hintSeconds = Math.max(hintSeconds, result.retryHintSeconds ?? 0);
    const { upstream, code, envelope, response } = result.transaction;
    deps.metrics?.transaction(upstream, code, result.recipients.length === 0, response);
    log.info({ mailId: id, attempt, upstream, code, recipients: envelope.to.length }, "smtp transaction");
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
  if (transactions === 0 && limitedUntil !== null && error === undefined) {
    spool.index.stopSending(id);
    log.info(
      { mailId: id, until: new Date(limitedUntil).toISOString() },
      "every upstream is at its daily limit; mail waits",
    );
    return { kind: "limited", at: limitedUntil };
  }
  const sinceReplay = attempt - entry.attemptsBeforeReplay;
  const state = mailStateAfterAttempt(entry.recipients, sinceReplay, entry.replayBudget ?? deps.retry.attempts);
  const endedAt = deps.now();
  const at = state === "deferred" ? nextAttemptAt(endedAt, sinceReplay, hintSeconds, limitedUntil, deps) : null;
  await spool.append({
    type: "attempt",
    id,
    ts: new Date(endedAt).toISOString(),
    attempt,
    state,
    ...(at !== null ? { nextAttemptAt: new Date(at).toISOString() } : {}),
    ...(error !== undefined ? { error } : {}),
  });
  // one info line per transaction is the contract; the attempt's end is news only when it is not a success
  log[state === "sent" ? "debug" : "info"]({ mailId: id, attempt, state }, "attempt ended");
  deps.metrics?.attemptEnded(state);
  if (state !== "deferred") deps.cache.delete(id);
  return at === null ? { kind: "final", state: state as "sent" | "partial" | "failed" } : { kind: "retry", at };
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
