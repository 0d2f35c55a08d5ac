// The totals of /metrics?format=json and /health count events recorded in the spool, never
// current states, so a retry, replay, cancel, restart or archiving never lowers one: mails
// accepted (with their recipients), mails that reached `sent`, mails that ended `partial`
// or `failed`, and first final outcomes (with the time from acceptance to them). Each mail
// counts once per kind: its index entry remembers what it counted, and a replay never
// resets that. Every count belongs to the segment holding the record that caused it, so
// archiving a segment moves exactly its counts to archive/totals.json (archive-totals.ts),
// however a mail's records are spread over segments. After a restart a record whose mail's
// earlier records are archived counts as a first, so a total can only be higher, never lower.
import { decodeTime } from "ulid";
import type { MailState } from "../types.js";

export interface Totals {
  /** Mails accepted. */
  emails: number;
  /** Mails that reached `sent` (each mail once, however often it was replayed). */
  successful: number;
  /** Mails that ended `partial` or `failed` (each mail once, however often it was retried). */
  failed: number;
  /** Recipients of the accepted mails. */
  recipients: number;
  /** Sum of acceptance → first final outcome, over `processed` mails. */
  processingMs: number;
  /** Mails with a final outcome (sent, partial or failed). */
  processed: number;
}

/** What one mail has counted so far; a replay or cancel never resets it. */
export interface MailEvents {
  sent: boolean;
  failed: boolean;
  processed: boolean;
}

export const emptyTotals = (): Totals => ({
  emails: 0,
  successful: 0,
  failed: 0,
  recipients: 0,
  processingMs: 0,
  processed: 0,
});

export const noEvents = (): MailEvents => ({ sent: false, failed: false, processed: false });

export const totalKeys = Object.keys(emptyTotals()) as (keyof Totals)[];

/** `into += sign × add`, field by field (`into` may carry other fields). */
export function addTotals(into: Totals, add: Totals, sign: 1 | -1 = 1): void {
  for (const key of totalKeys) into[key] += sign * add[key];
}

export function acceptedCounts(recipients: number): Totals {
  return { ...emptyTotals(), emails: 1, recipients };
}

/**
 * What an `attempt` record counts, updating its mail's `events`. Without `mail` (its
 * accepted record is archived) nothing earlier is known, so a final state counts as a first.
 */
export function attemptCounts(
  record: { id: string; state: MailState; ts: string },
  mail?: { events: MailEvents; acceptedAt: string },
): Totals {
  const counts = emptyTotals();
  const { state } = record;
  if (state !== "sent" && state !== "partial" && state !== "failed") return counts;
  const events = mail?.events ?? noEvents();
  if (state === "sent" && !events.sent) counts.successful = 1;
  if (state !== "sent" && !events.failed) counts.failed = 1;
  if (!events.processed) {
    counts.processed = 1;
    counts.processingMs = Math.max(0, Date.parse(record.ts) - acceptedMs(record.id, mail?.acceptedAt));
  }
  events.sent ||= state === "sent";
  events.failed ||= state !== "sent";
  events.processed = true;
  return counts;
}

/** The accepted record's time, else the one in the mail's id (a ULID: its first 48 bits are milliseconds). */
function acceptedMs(id: string, acceptedAt: string | undefined): number {
  if (acceptedAt) return Date.parse(acceptedAt);
  try {
    return decodeTime(id);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The counts of the live segments, each apart, so archiving a segment takes exactly its own. */
export class SegmentTotals {
  private readonly bySegment = new Map<number, Totals>();
  /** Over every live segment; reading it is free. */
  readonly sum = emptyTotals();
  /** Counts changed since the index last wrote them. */
  changed = false;

  add(segment: number, counts: Totals): void {
    this.changed = true;
    let totals = this.bySegment.get(segment);
    if (!totals) this.bySegment.set(segment, (totals = emptyTotals()));
    addTotals(totals, counts);
    addTotals(this.sum, counts);
  }

  of(segment: number): Totals {
    return { ...(this.bySegment.get(segment) ?? emptyTotals()) };
  }

  /** A segment's counts, which stop counting here (the segment is archived). */
  take(segment: number): Totals {
    const totals = this.bySegment.get(segment) ?? emptyTotals();
    this.changed = true;
    this.bySegment.delete(segment);
    addTotals(this.sum, totals, -1);
    return totals;
  }
}

/** The original service's JSON metrics shape. */
export function metricsJson(totals: Totals) {
  return {
    total_emails: totals.emails,
    successful_emails: totals.successful,
    failed_emails: totals.failed,
    total_recipients: totals.recipients,
    avg_processing_time_ms: totals.processed ? Math.round(totals.processingMs / totals.processed) : 0,
  };
}
