// The totals of /metrics?format=json, derived from the spool so they survive restarts:
// a fold over the live index plus archive/totals.json, which the compactor adds every
// mail to as it archives it.
import fs from "node:fs";
import path from "node:path";
import { writeFileDurablySync } from "./fsync.js";
import type { MailEntry } from "./mail-index.js";

export interface Totals {
  emails: number;
  successful: number;
  failed: number;
  recipients: number;
  processingMs: number;
  processed: number;
}

export const emptyTotals = (): Totals => ({
  emails: 0,
  successful: 0,
  failed: 0,
  recipients: 0,
  processingMs: 0,
  processed: 0,
});

export function addEntry(totals: Totals, entry: MailEntry): void {
  totals.emails += 1;
  totals.recipients += entry.recipients.length;
  if (entry.state === "sent") totals.successful += 1;
  if (entry.state === "partial" || entry.state === "failed") totals.failed += 1;
  const end = entry.attempts.at(-1)?.endedAt;
  if (end && (entry.state === "sent" || entry.state === "partial" || entry.state === "failed")) {
    totals.processingMs += Date.parse(end) - Date.parse(entry.acceptedAt);
    totals.processed += 1;
  }
}

export function totalsFile(archiveDir: string): string {
  return path.join(archiveDir, "totals.json");
}

export function readArchiveTotals(archiveDir: string): Totals {
  try {
    return { ...emptyTotals(), ...JSON.parse(fs.readFileSync(totalsFile(archiveDir), "utf8")) };
  } catch {
    return emptyTotals();
  }
}

export function writeArchiveTotals(archiveDir: string, totals: Totals): void {
  writeFileDurablySync(totalsFile(archiveDir), JSON.stringify(totals));
}

/** The original service's JSON metrics shape. */
export function metricsJson(live: Iterable<MailEntry>, archived: Totals) {
  const totals = { ...archived };
  for (const entry of live) addEntry(totals, entry);
  return {
    total_emails: totals.emails,
    successful_emails: totals.successful,
    failed_emails: totals.failed,
    total_recipients: totals.recipients,
    avg_processing_time_ms: totals.processed ? Math.round(totals.processingMs / totals.processed) : 0,
  };
}
