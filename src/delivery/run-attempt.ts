// One attempt for one mail: compose once, hand the open recipients to the transport,
// append an outcome record right after each transaction, then the attempt record with
// the mail's new state and, when deferred, when to try again.
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { backoffMs, type RetryPolicy } from "./backoff.js";
import { composeMessage } from "./compose.js";
import { mailStateAfterAttempt } from "./mail-outcome.js";
import type { Transport } from "./transports/transport.js";

export interface AttemptDeps {
  spool: Spool;
  transport: Transport;
  from: string;
  retry: RetryPolicy;
  log: Logger;
  now: () => number;
  random?: () => number;
}

/** Runs the attempt; returns when the next one is due, or null when the mail is final. */
export async function runAttempt(id: MailId, deps: AttemptDeps): Promise<number | null> {
  const { spool, log } = deps;
  const entry = spool.index.get(id);
  if (!entry || (entry.state !== "queued" && entry.state !== "deferred")) return null;
  const attempt = entry.attempts.length + 1;
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
  entry.state = "sending";
  let error: string | undefined;
  try {
    const accepted = await spool.readAccepted(id);
    const raw = await composeMessage(accepted, deps.from, spool.blobs);
    const results = await deps.transport.send({ id, envelope: { from: deps.from, to: open.map((r) => r.address) }, raw });
    for (const result of results) {
      await spool.append({ type: "outcome", id, attempt, transaction: result.transaction, recipients: result.recipients });
      log.info({ mailId: id, attempt, upstream: result.transaction.upstream, code: result.transaction.code }, "smtp transaction");
    }
  } catch (failure) {
    error = (failure as Error).message;
    log.warn({ err: failure, mailId: id, attempt }, "attempt failed");
  }
  const state = mailStateAfterAttempt(entry.recipients, attempt, deps.retry.attempts);
  const nextAt = state === "deferred" ? deps.now() + backoffMs(attempt, deps.retry, deps.random) : null;
  await spool.append({
    type: "attempt",
    id,
    attempt,
    state,
    ...(nextAt !== null ? { nextAttemptAt: new Date(nextAt).toISOString() } : {}),
    ...(error !== undefined ? { error } : {}),
  });
  log.info({ mailId: id, attempt, state }, "attempt ended");
  return nextAt;
}
