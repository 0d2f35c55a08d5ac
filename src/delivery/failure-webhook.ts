// failed.notify.webhook: one POST {id, state, recipients} per mail that ends partial or
// failed, retried a few times with backoff, in the background: it never blocks delivery.
import type { Logger } from "../log.js";
import type { MailEntry } from "../spool/mail-index.js";

const retryDelaysMs = [1_000, 5_000, 30_000];

export function notifyFailure(
  url: string,
  entry: MailEntry,
  log: Logger,
  sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()),
): Promise<void> {
  const body = JSON.stringify({
    id: entry.id,
    state: entry.state,
    recipients: entry.recipients.map((r) => ({ address: r.address, state: r.state, lastError: r.lastError ?? null })),
  });
  const post = async (attempt: number): Promise<void> => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) return;
      throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      const delay = retryDelaysMs[attempt];
      if (delay === undefined) {
        log.error({ mailId: entry.id, err: error }, "failure webhook gave up");
        return;
      }
      log.warn({ mailId: entry.id, err: error, retryInMs: delay }, "failure webhook failed; retrying");
      await sleep(delay);
      return post(attempt + 1);
    }
  };
  return post(0);
}
