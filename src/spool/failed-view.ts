// The failed-spool view: data/failed/failed.jsonl, one line per partial or failed mail
// (id, subject, recipients with their last error, attempts, first/last failure time),
// regenerated atomically (temp file, fsync, rename) from the index. The records stay the truth.
import path from "node:path";
import type { MailEntry, MailIndex } from "./mail-index.js";
import { writeFileDurably } from "./fsync.js";

export function failedViewLine(entry: MailEntry): string {
  const failedAttempts = entry.attempts.filter((a) => a.state !== "sent");
  return JSON.stringify({
    id: entry.id,
    state: entry.state,
    subject: entry.subject,
    acceptedAt: entry.acceptedAt,
    recipients: entry.recipients.map((r) => ({ address: r.address, state: r.state, lastError: r.lastError ?? null })),
    attempts: entry.attempts.length,
    firstFailureAt: failedAttempts[0]?.startedAt ?? null,
    lastFailureAt: failedAttempts.at(-1)?.endedAt ?? failedAttempts.at(-1)?.startedAt ?? null,
  });
}

export async function writeFailedView(index: MailIndex, dir: string): Promise<number> {
  const entries = index.inStates(["partial", "failed"]);
  await writeFileDurably(path.join(dir, "failed.jsonl"), entries.map((e) => `${failedViewLine(e)}\n`).join(""));
  return entries.length;
}
