// The in-memory index: id → state, recipients, attempts and where the accepted record
// lives, plus the event totals of the live segments (totals.ts). A pure fold over spool
// records, so recovery and live appends share one path.
import { canonicalOrSelf } from "../address.js";
import type { AcceptedRecord, SpoolRecord } from "./record.js";
import type { Location } from "./segment.js";
import { acceptedCounts, attemptCounts, noEvents, SegmentTotals, type MailEvents, type Totals } from "./totals.js";
import type { MailId, MailState, RecipientKind, RecipientState, Transaction } from "../types.js";

export interface RecipientStatus {
  address: string;
  name?: string;
  kind: RecipientKind;
  state: RecipientState;
  lastError?: string;
}

export interface AttemptStatus {
  attempt: number;
  startedAt: string;
  endedAt?: string;
  state?: MailState;
  nextAttemptAt?: string;
  error?: string;
  transactions: Transaction[];
}

export interface MailEntry {
  id: MailId;
  state: MailState;
  acceptedAt: string;
  client: string;
  subject: string;
  location: Location;
  recipients: RecipientStatus[];
  attempts: AttemptStatus[];
  nextAttemptAt?: string;
  /** Attempts made before the last replay: the retry budget counts from here. */
  attemptsBeforeReplay: number;
  /** The last replay's budget, when it set one (the rescan allows a single attempt). */
  replayBudget?: number;
  idempotencyKey?: string;
  requestHash?: string;
  /** sha256s of the attachments (and raw message) stored in blobs/: they live while the mail does. */
  blobs: string[];
  envelopeFrom?: string;
  /** What this mail has counted towards the totals. */
  events: MailEvents;
}

export interface KeyUse {
  id: MailId;
  ts: string;
  requestHash?: string;
}

export interface ListQuery {
  state?: MailState;
  since?: Date;
  /** Mails with this recipient (to, cc or bcc), compared in canonical form. */
  recipient?: string;
  /** Mails whose subject contains this, case ignored. */
  subject?: string;
  limit: number;
}

export class MailIndex {
  private readonly mails = new Map<MailId, MailEntry>();
  /** Idempotency keys (HTTP and pickup file names) → the mail, when the key was used and the record's requestHash. */
  private readonly keys = new Map<string, KeyUse>();
  /** Event counts of the records in live segments (records read from archive/ count there). */
  readonly totals = new SegmentTotals();
  orphanRecords = 0;

  get size(): number {
    return this.mails.size;
  }

  get(id: MailId): MailEntry | undefined {
    return this.mails.get(id);
  }

  /** The mail a key was used for within the window, if any. */
  byIdempotencyKey(key: string, since: Date): MailId | undefined {
    return this.keyUse(key, since)?.id;
  }

  /** The last use of a key within the window, if any. */
  keyUse(key: string, since: Date): KeyUse | undefined {
    const used = this.keys.get(key);
    return used && used.ts >= since.toISOString() ? used : undefined;
  }

  apply(record: SpoolRecord, location: Location): void {
    if ("idempotencyKey" in record && record.idempotencyKey)
      this.keys.set(record.idempotencyKey, { id: record.id, ts: record.ts, requestHash: record.requestHash });
    if (record.type === "accepted") {
      const entry = entryFromAccepted(record, location);
      this.mails.set(record.id, entry);
      this.count(location, acceptedCounts(entry.recipients.length));
      return;
    }
    const entry = this.mails.get(record.id);
    if (!entry) {
      this.orphanRecords += 1;
      if (record.type === "attempt") this.count(location, attemptCounts(record));
      return;
    }
    if (record.type === "replay") return applyReplay(entry, record.recipients, record.attempts);
    if (record.type === "cancel") {
      entry.state = "cancelled";
      entry.nextAttemptAt = undefined;
      return;
    }
    const attempt = attemptOf(entry, record.attempt, record.ts);
    if (record.type === "outcome") {
      attempt.transactions.push(record.transaction);
      if (record.recipients.length === 0 && record.transaction.code !== 250)
        noteUpstreamFailure(entry, record.transaction);
      for (const outcome of record.recipients) {
        const recipient = findRecipient(entry, outcome.address);
        if (!recipient) continue;
        recipient.state = outcome.state;
        recipient.lastError =
          outcome.state === "sent"
            ? undefined
            : (outcome.error ?? `${record.transaction.code} ${record.transaction.response}`);
      }
    } else if (record.type === "attempt") {
      this.count(location, attemptCounts(record, entry));
      Object.assign(attempt, {
        endedAt: record.ts,
        state: record.state,
        nextAttemptAt: record.nextAttemptAt,
        error: record.error,
      });
      entry.state = record.state;
      entry.nextAttemptAt = record.nextAttemptAt;
      settleOpenRecipients(entry);
    }
  }

  private count(location: Location, counts: Totals): void {
    if (!location.archived) this.totals.add(location.segment, counts);
  }

  /** Mails that still need delivery, oldest first. */
  undelivered(): MailEntry[] {
    return this.inStates(["queued", "deferred", "sending"]);
  }

  /** Mails in any of these states, oldest first. */
  inStates(states: readonly MailState[]): MailEntry[] {
    return [...this.mails.values()].filter((m) => states.includes(m.state));
  }

  /** Newest first; every filter applies before the limit. */
  list(query: ListQuery): MailEntry[] {
    const matches = listFilter(query);
    const result: MailEntry[] = [];
    const all = [...this.mails.values()];
    for (let i = all.length - 1; i >= 0 && result.length < query.limit; i -= 1) {
      const entry = all[i]!;
      if (matches(entry)) result.push(entry);
    }
    return result;
  }

  /** Puts an entry folded elsewhere (a mail split by archiving, split-mails.ts) in place of what this index made of it. */
  put(entry: MailEntry): void {
    this.mails.set(entry.id, entry);
  }

  /** Drops an archived mail from memory (its idempotency key had expired before archiving). */
  remove(id: MailId): void {
    const entry = this.mails.get(id);
    this.mails.delete(id);
    if (entry?.idempotencyKey && this.keys.get(entry.idempotencyKey)?.id === id) this.keys.delete(entry.idempotencyKey);
  }

  entries(): IterableIterator<MailEntry> {
    return this.mails.values();
  }

  countByState(): Record<MailState, number> {
    const counts = { queued: 0, sending: 0, deferred: 0, sent: 0, partial: 0, failed: 0, cancelled: 0 };
    for (const entry of this.mails.values()) counts[entry.state] += 1;
    return counts;
  }
}

function entryFromAccepted(record: AcceptedRecord, location: Location): MailEntry {
  const { mail } = record;
  const recipients: RecipientStatus[] = [];
  for (const kind of ["to", "cc", "bcc"] as const) {
    for (const a of mail[kind]) recipients.push({ address: a.address, name: a.name, kind, state: "pending" });
  }
  return {
    id: record.id,
    state: "queued",
    acceptedAt: record.ts,
    client: record.client,
    subject: mail.subject,
    location,
    recipients,
    attempts: [],
    attemptsBeforeReplay: 0,
    idempotencyKey: record.idempotencyKey,
    requestHash: record.requestHash,
    blobs: referencedBlobs(mail),
    envelopeFrom: mail.envelopeFrom,
    events: noEvents(),
  };
}

/** An upstream-level failure settles nobody, but it is the cause the envelope's open recipients last saw. */
function noteUpstreamFailure(entry: MailEntry, transaction: Transaction): void {
  const envelope = new Set(transaction.envelope.to);
  const cause = `${transaction.upstream}: ${transaction.code || ""} ${transaction.response}`.replace(/: +/, ": ");
  for (const r of entry.recipients)
    if (envelope.has(r.address) && (r.state === "pending" || r.state === "deferred")) r.lastError = cause;
}

const foldCase = (text: string) => text.normalize("NFC").toLowerCase();

function listFilter(query: ListQuery): (entry: MailEntry) => boolean {
  const since = query.since?.toISOString();
  const subject = query.subject === undefined ? undefined : foldCase(query.subject);
  const recipient = query.recipient === undefined ? undefined : canonicalOrSelf(query.recipient);
  // records hold canonical addresses, older ones may not: each distinct address is parsed once
  const canonical = new Map<string, string>();
  const isRecipient = (address: string) => {
    if (address === recipient) return true;
    let form = canonical.get(address);
    if (form === undefined) canonical.set(address, (form = canonicalOrSelf(address)));
    return form === recipient;
  };
  return (entry) =>
    (!query.state || entry.state === query.state) &&
    (!since || entry.acceptedAt >= since) &&
    (subject === undefined || foldCase(entry.subject).includes(subject)) &&
    (recipient === undefined || entry.recipients.some((r) => isRecipient(r.address)));
}

/**
 * Outcomes name recipients exactly as the envelope carried them (the canonical form). Records
 * written before addresses were canonical may differ in the domain's case or encoding: those
 * are matched in canonical form, so an old mail does not stay open forever.
 */
function findRecipient(entry: MailEntry, address: string): RecipientStatus | undefined {
  const exact = entry.recipients.find((r) => r.address === address);
  if (exact) return exact;
  const canonical = canonicalOrSelf(address);
  return entry.recipients.find((r) => canonicalOrSelf(r.address) === canonical);
}

function referencedBlobs(mail: AcceptedRecord["mail"]): string[] {
  const blobs = mail.attachments.filter((a) => a.inline === undefined && !a.archived).map((a) => a.sha256);
  if (mail.raw && !mail.raw.archived) blobs.push(mail.raw.sha256);
  return blobs;
}

function applyReplay(entry: MailEntry, recipients: string[], budget: number | undefined): void {
  const named = new Set(recipients);
  for (const r of entry.recipients) if (named.has(r.address)) r.state = "pending";
  entry.state = "queued";
  entry.nextAttemptAt = undefined;
  entry.attemptsBeforeReplay = entry.attempts.length;
  entry.replayBudget = budget;
}

/** Recipients left open by an attempt become deferred, or failed-transient once the mail is final. */
function settleOpenRecipients(entry: MailEntry): void {
  const next =
    entry.state === "deferred"
      ? "deferred"
      : entry.state === "partial" || entry.state === "failed"
        ? "failed-transient"
        : null;
  if (!next) return;
  for (const r of entry.recipients) if (r.state === "pending" || r.state === "deferred") r.state = next;
}

function attemptOf(entry: MailEntry, number: number, ts: string): AttemptStatus {
  let attempt = entry.attempts.find((a) => a.attempt === number);
  if (!attempt) {
    attempt = { attempt: number, startedAt: ts, transactions: [] };
    entry.attempts.push(attempt);
  }
  return attempt;
}
