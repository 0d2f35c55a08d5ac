// The index: id → state, recipients, attempts and where the accepted record lives, plus
// the event totals of the live segments (totals.ts) and which live segments hold which
// mails (segment-map.ts). A fold over spool records, so recovery and live appends share
// one path; stored in SQLite (index-db.ts), derived and rebuildable from the segments.
import { canonicalOrSelf } from "../address.js";
import type { Logger } from "../log.js";
import type { AcceptedRecord, AttemptRecord, OutcomeRecord, SpoolRecord, WebhookRecord } from "./record.js";
import type { Binding } from "bun:sqlite";
import { closeIndexFile, getMeta, memoryIndexDb, setMeta, type IndexDb } from "./index-db.js";
import type { Location } from "./segment.js";
import type { MailReader } from "./mail-reader.js";
import { SegmentMap } from "./segment-map.js";
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
  /** The sender's tags (lists filter by them). */
  tags?: string[];
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
  /** Mails handed in by this client (a token's mails, for a token that sees only its own). */
  client?: string;
  /** Mails that carry this tag. */
  tag?: string;
  /** Mails older than this id (the cursor: the last id of the previous page). */
  before?: MailId;
  limit: number;
}

/** What delivery needs to requeue a mail at start-up, without loading the mail. */
export interface UndeliveredMail {
  id: MailId;
  state: MailState;
  nextAttemptAt?: string;
  /** Its last attempt has no end: the relay stopped while sending it. */
  openAttempt: boolean;
}

/** A place in the scheduled mails' time order. */
export interface ScheduleCursor {
  at: string;
  id: MailId;
}

export interface IndexPosition {
  segment: number;
  /** Offset just past the last record folded. */
  offset: number;
}

interface MailRow {
  entry: string;
}

/** The states a mail is sent from (it is stored in that state while being sent). */
const sendableStates: readonly MailState[] = ["scheduled", "queued", "deferred"];

/** Changes are written in one transaction at most this long after they were folded. */
const flushDelayMs = 200;
/** …or at once when this many mails wait. */
const flushBatch = 4096;
const writeRetryMs = 1000;

/**
 * The index over the spool: a fold of its records, kept in SQLite (index-db.ts). Memory
 * holds only mails changed since the last write and mails being sent; every reader asks
 * through these methods and never sees a table.
 */
export class MailIndex implements MailReader {
  /** Mails changed since the last write, and mails being sent (pinned until their attempt ends). */
  private readonly cache = new Map<MailId, MailEntry>();
  private readonly dirty = new Set<MailId>();
  /** Mails accepted since the last write → their place in acceptance order (ids of one millisecond are not ordered). */
  private readonly created = new Map<MailId, number>();
  private nextSeq: number;
  /** Mails being sent → the state they had before (the one the spool's records give them). */
  private readonly sending = new Map<MailId, MailState>();
  /** null: the key was released (a cancel with releasesKey), removed at the next flush. */
  private readonly dirtyKeys = new Map<string, KeyUse | null>();
  /** Webhook events created (their record) or settled (null) since the last write. */
  private readonly dirtyWebhooks = new Map<string, WebhookRecord | null>();
  /** Attempts ended since the last write: when, and whether not `sent` (for the failure-rate alert). */
  private readonly attemptEnds: [string, number][] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  /** Event counts of the records in live segments (records read from archive/ count there). */
  readonly totals: SegmentTotals;
  readonly segments: SegmentMap;
  /** Just past the last live record folded: start-up folds from here. */
  position: IndexPosition | null;
  orphanRecords = 0;

  /** Counts kept beside the index (quotas, daily limits), written with each change. */
  counters: () => [string, unknown][] = () => [];
  /** The last write's failure (a full disk): the changes stay in memory and are written at the next try. */
  writeError: Error | null = null;

  constructor(
    readonly db: IndexDb = memoryIndexDb(),
    private readonly log?: Logger,
  ) {
    this.segments = new SegmentMap(db);
    this.totals = loadSegmentTotals(db);
    this.nextSeq = db.query<{ n: number }, []>("SELECT coalesce(max(seq), 0) + 1 AS n FROM mails").get()!.n;
    const position = getMeta(db, "position");
    this.position = position ? (JSON.parse(position) as IndexPosition) : null;
  }

  /** A fold of records that follow every one `base` has folded (a reader's tail, index-view.ts): its new mails come after base's in acceptance order. */
  static after(base: MailIndex): MailIndex {
    const index = new MailIndex();
    index.nextSeq = base.nextSeq;
    return index;
  }

  /** Takes a mail as another index holds it, at its place `seq` in acceptance order. */
  adopt(entry: MailEntry, seq: number): void {
    this.created.set(entry.id, seq);
    this.touch(entry);
    this.scheduleFlush();
  }

  /** Where these mails stand in acceptance order (for merging the lists of two indexes). */
  seqs(ids: MailId[]): Map<MailId, number> {
    this.flush();
    const rows = this.db
      .query<{ id: string; seq: number }, [string]>(
        "SELECT id, seq FROM mails WHERE id IN (SELECT value FROM json_each(?))",
      )
      .all(JSON.stringify(ids));
    return new Map(rows.map((row) => [row.id, row.seq]));
  }

  get size(): number {
    this.flush();
    return this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM mails").get()!.n;
  }

  get(id: MailId): MailEntry | undefined {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = this.db.query<MailRow, [string]>("SELECT entry FROM mails WHERE id = ?").get(id);
    return row ? (JSON.parse(row.entry) as MailEntry) : undefined;
  }

  /** The mail a key was used for within the window, if any. */
  byIdempotencyKey(key: string, since: Date): MailId | undefined {
    return this.keyUse(key, since)?.id;
  }

  /** The last use of a key within the window, if any. */
  keyUse(key: string, since: Date): KeyUse | undefined {
    const dirty = this.dirtyKeys.get(key);
    if (dirty === null) return undefined;
    const used =
      dirty ??
      this.db
        .query<{ id: string; ts: string; request_hash: string | null }, [string]>(
          "SELECT id, ts, request_hash FROM keys WHERE key = ?",
        )
        .get(key) ??
      undefined;
    if (!used || used.ts < since.toISOString()) return undefined;
    const requestHash = "request_hash" in used ? (used.request_hash ?? undefined) : used.requestHash;
    return { id: used.id, ts: used.ts, ...(requestHash ? { requestHash } : {}) };
  }

  apply(record: SpoolRecord, location: Location): void {
    this.fold(record, location);
    this.scheduleFlush();
  }

  private fold(record: SpoolRecord, location: Location): void {
    if (!location.archived) {
      this.segments.add(location.segment, record.id, record.ts);
      const end = location.offset + location.length;
      if (!this.position || location.segment > this.position.segment || end > this.position.offset)
        this.position = { segment: location.segment, offset: end };
    }
    if (record.type === "webhook") {
      this.dirtyWebhooks.set(record.event, record.status === "created" ? record : null);
      return;
    }
    if ("idempotencyKey" in record && record.idempotencyKey)
      this.dirtyKeys.set(record.idempotencyKey, { id: record.id, ts: record.ts, requestHash: record.requestHash });
    if (record.type === "cancel" && record.releasesKey) this.dirtyKeys.set(record.releasesKey, null);
    if (record.type === "accepted") {
      const entry = entryFromAccepted(record, location);
      this.created.set(record.id, this.nextSeq++);
      this.touch(entry);
      this.count(location, acceptedCounts(entry.recipients.length));
      return;
    }
    const entry = this.get(record.id);
    if (!entry) {
      this.orphanRecords += 1;
      if (record.type === "attempt") this.count(location, attemptCounts(record));
      return;
    }
    this.touch(entry);
    if (record.type === "replay") return applyReplay(entry, record.recipients, record.attempts);
    if (record.type === "cancel") return applyCancel(entry);
    if (record.type === "outcome") applyOutcome(entry, record);
    else if (record.type === "attempt") {
      this.count(location, attemptCounts(record, entry));
      this.sending.delete(entry.id);
      this.attemptEnds.push([record.ts, record.state === "sent" ? 0 : 1]);
      applyAttemptEnd(entry, record);
    }
  }

  private count(location: Location, counts: Totals): void {
    if (!location.archived) this.totals.add(location.segment, counts);
  }

  /** Keeps the entry in memory until the next write (which the caller schedules once its change is made). */
  private touch(entry: MailEntry): void {
    this.cache.set(entry.id, entry);
    this.dirty.add(entry.id);
  }

  private scheduleFlush(delay = flushDelayMs): void {
    if (this.dirty.size >= flushBatch && !this.writeError) return this.flush();
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), delay);
    this.flushTimer.unref();
  }

  /**
   * Writes every change folded so far, with the position it reaches, in one transaction.
   * A failed write (a full disk) keeps the changes in memory, readers still see them through
   * get(), and is tried again a second later: the index is derived, the spool is not at risk.
   */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const idle =
      this.dirty.size === 0 &&
      this.dirtyKeys.size === 0 &&
      this.attemptEnds.length === 0 &&
      this.dirtyWebhooks.size === 0;
    if (idle && !this.segments.pending && !this.totals.changed) return;
    try {
      this.write();
    } catch (error) {
      if (!this.writeError) this.log?.warn({ err: error }, "could not write the spool index; retrying");
      this.writeError = error as Error;
      this.scheduleFlush(writeRetryMs);
      return;
    }
    if (this.writeError) this.log?.info("the spool index is written again");
    this.writeError = null;
  }

  private write(): void {
    this.db.transaction(() => {
      const columns = ["state", "accepted_at", "client", "subject_fold", "segment", "archived", "next_attempt_at"];
      columns.push("open_attempt", "blobs", "entry");
      const putMail = this.db.query<unknown, Binding[]>(
        `INSERT INTO mails (id, seq, ${columns.join(", ")}) VALUES (?, ?, ${columns.map(() => "?").join(", ")})
         ON CONFLICT (id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`,
      );
      const putRecipient = this.db.query<unknown, [string, string]>(
        "INSERT OR IGNORE INTO recipients (address, id) VALUES (?, ?)",
      );
      const putTag = this.db.query<unknown, [string, string]>("INSERT OR IGNORE INTO tags (tag, id) VALUES (?, ?)");
      for (const id of this.dirty) {
        const entry = this.cache.get(id)!;
        const [key, ...rest] = mailRow(entry, this.sending.get(id));
        putMail.run(key!, this.created.get(id) ?? 0, ...rest);
        if (this.created.has(id)) {
          for (const address of new Set(entry.recipients.map((r) => canonicalOrSelf(r.address))))
            putRecipient.run(address, id);
          for (const tag of entry.tags ?? []) putTag.run(tag, id);
        }
      }
      const putKey = this.db.query<unknown, [string, string, string, string | null]>(
        "INSERT OR REPLACE INTO keys (key, id, ts, request_hash) VALUES (?, ?, ?, ?)",
      );
      const dropKey = this.db.query<unknown, [string]>("DELETE FROM keys WHERE key = ?");
      for (const [key, use] of this.dirtyKeys)
        if (use) putKey.run(key, use.id, use.ts, use.requestHash ?? null);
        else dropKey.run(key);
      const putEnd = this.db.query<unknown, [string, number]>(
        "INSERT INTO attempt_ends (ended_at, failed) VALUES (?, ?)",
      );
      for (const [at, failed] of this.attemptEnds) putEnd.run(at, failed);
      const putWebhook = this.db.query<unknown, [string, string]>(
        "INSERT OR REPLACE INTO webhooks (event, record) VALUES (?, ?)",
      );
      const settleWebhook = this.db.query<unknown, [string]>("DELETE FROM webhooks WHERE event = ?");
      for (const [event, record] of this.dirtyWebhooks)
        if (record) putWebhook.run(event, JSON.stringify(record));
        else settleWebhook.run(event);
      this.segments.write(this.totals);
      if (this.position) setMeta(this.db, "position", JSON.stringify(this.position));
      this.writeCounters();
    })();
    for (const id of this.dirty) if (!this.sending.has(id)) this.cache.delete(id);
    this.dirty.clear();
    this.created.clear();
    this.dirtyKeys.clear();
    this.attemptEnds.length = 0;
    this.dirtyWebhooks.clear();
  }

  private writeCounters(): void {
    for (const [name, state] of this.counters()) setMeta(this.db, `counter:${name}`, JSON.stringify(state));
  }

  /** The fold of start-up is written whole: from now on a restart resumes from the position (and a reader finds the counts beside it). */
  markComplete(): void {
    this.db.transaction(() => {
      this.writeCounters();
      setMeta(this.db, "complete", "1");
    })();
  }

  /** A counter's state as last written, or undefined. */
  savedCounter(name: string): unknown {
    const saved = getMeta(this.db, `counter:${name}`);
    return saved === undefined ? undefined : JSON.parse(saved);
  }

  /**
   * Marks a queued, deferred or scheduled mail as being sent; it stays in memory until its
   * attempt ends. A scheduled mail whose time (`send_at`) is after `now` is not started.
   */
  startSending(id: MailId, now: number): MailEntry | undefined {
    const entry = this.get(id);
    if (!entry || !sendableStates.includes(entry.state)) return undefined;
    if (entry.state === "scheduled" && Date.parse(entry.nextAttemptAt ?? "") > now) return undefined;
    this.sending.set(id, entry.state);
    this.cache.set(id, entry);
    entry.state = "sending";
    return entry;
  }

  /** An attempt that ended without an attempt record: the mail is back in the state it had. */
  stopSending(id: MailId): void {
    const before = this.sending.get(id);
    const entry = this.cache.get(id);
    this.sending.delete(id);
    if (entry && before && entry.state === "sending") entry.state = before;
    if (entry && !this.dirty.has(id)) this.cache.delete(id);
  }

  /**
   * Mails that still need delivery, oldest first, as delivery requeues them: queued and
   * deferred ones, and scheduled ones whose first attempt the relay stopped in (their time
   * had come; the others wait for their time in scheduledAfter()).
   */
  undelivered(): UndeliveredMail[] {
    this.flush();
    return this.db
      .query<{ id: string; state: MailState; next_attempt_at: string | null; open_attempt: number }, []>(
        `SELECT id, state, next_attempt_at, open_attempt FROM mails
         WHERE state IN ('queued', 'deferred') OR (state = 'scheduled' AND open_attempt = 1) ORDER BY seq`,
      )
      .all()
      .map((row) => ({
        id: row.id,
        state: this.sending.has(row.id) ? "sending" : row.state,
        ...(row.next_attempt_at ? { nextAttemptAt: row.next_attempt_at } : {}),
        openAttempt: row.open_attempt === 1,
      }));
  }

  /** Webhook events created and not yet delivered or given up, oldest first. */
  pendingWebhooks(): WebhookRecord[] {
    this.flush();
    return this.db
      .query<{ record: string }, []>("SELECT record FROM webhooks")
      .all()
      .map((row) => JSON.parse(row.record) as WebhookRecord)
      .sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  }

  /**
   * Scheduled mails in time order (then id) after the cursor `after`: those due by `until`
   * (at most `limit`), and when the next one after them is due (null: none is scheduled).
   * Read from the table's partial index, so nothing is held per scheduled mail.
   */
  scheduledAfter(
    after: ScheduleCursor | null,
    until: string,
    limit: number,
  ): { due: ScheduleCursor[]; next: string | null } {
    this.flush();
    const cursor = after ?? { at: "", id: "" };
    const rows = this.db
      .query<{ id: string; at: string }, [string, string, number]>(
        `SELECT id, next_attempt_at AS at FROM mails INDEXED BY mails_scheduled
         WHERE state = 'scheduled' AND (next_attempt_at, id) > (?, ?)
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(cursor.at, cursor.id, limit + 1);
    const due = rows.filter((row) => row.at <= until).slice(0, limit);
    return { due, next: rows[due.length]?.at ?? null };
  }

  /** Mails in any of these states, oldest first. */
  inStates(states: readonly MailState[]): MailEntry[] {
    this.flush();
    // mails being sent are stored in the state they had
    const stored = [...new Set(states.flatMap((s) => (s === "sending" ? sendableStates : [s])))];
    if (stored.length === 0) return [];
    return this.rows(`WHERE state IN (${stored.map(() => "?").join(", ")}) ORDER BY seq`, stored).filter((entry) =>
      states.includes(entry.state),
    );
  }

  /** The oldest acceptance among mails in these states, or null. */
  oldestAcceptedAt(states: readonly MailState[]): string | null {
    this.flush();
    const stored: MailState[] = states.filter((s) => s !== "sending");
    if (states.includes("sending")) stored.push(...sendableStates);
    if (stored.length === 0) return null;
    return (
      this.db
        .query<{ at: string | null }, string[]>(
          `SELECT min(accepted_at) AS at FROM mails WHERE state IN (${stored.map(() => "?").join(", ")})`,
        )
        .get(...stored)?.at ?? null
    );
  }

  /** Newest first; every filter applies before the limit; `before` pages on. */
  list(query: ListQuery): MailEntry[] {
    const result: MailEntry[] = [];
    if (query.limit <= 0) return result;
    const { where, params } = this.filter(query);
    // mails being sent are stored in the state they had: the few of them may fall out of a state filter
    params.push(Number.isFinite(query.limit) ? query.limit + this.sending.size : -1);
    for (const entry of this.rows(`${where} ORDER BY seq DESC LIMIT ?`, params)) {
      if (query.state && entry.state !== query.state) continue;
      result.push(entry);
      if (result.length >= query.limit) break;
    }
    return result;
  }

  /** The mails a query over the table selects, each as this index sees it now (a mail in memory wins over its row). */
  private rows(clauses: string, params: Binding[]): MailEntry[] {
    return this.db
      .query<MailRow & { id: string }, Binding[]>(`SELECT id, entry FROM mails ${clauses}`)
      .all(...params)
      .map((row) => this.cache.get(row.id) ?? (JSON.parse(row.entry) as MailEntry));
  }

  /** How many mails list() would give without a limit. */
  countMatching(query: Omit<ListQuery, "limit">): number {
    const { where, params } = this.filter(query);
    const stored = this.db
      .query<{ n: number }, Binding[]>(`SELECT count(*) AS n FROM mails ${where}`)
      .get(...params)!.n;
    if (query.state === undefined) return stored;
    const moved = [...this.sending.keys()].filter((id) => this.get(id)?.state !== query.state).length;
    return query.state === "sending" ? this.sending.size : Math.max(0, stored - moved);
  }

  private filter(query: Omit<ListQuery, "limit">): { where: string; params: Binding[] } {
    this.flush();
    const where: string[] = [];
    const params: Binding[] = [];
    const stored = query.state === "sending" ? [...sendableStates] : query.state ? [query.state] : [];
    if (stored.length) {
      where.push(`state IN (${stored.map(() => "?").join(", ")})`);
      params.push(...stored);
    }
    if (query.since) {
      where.push("accepted_at >= ?");
      params.push(query.since.toISOString());
    }
    if (query.client !== undefined) {
      where.push("client = ?");
      params.push(query.client);
    }
    if (query.before) {
      // a cursor the index no longer knows (its mail was forgotten) still pages on, by the id's time
      where.push(
        "seq < coalesce((SELECT seq FROM mails WHERE id = ?), (SELECT max(seq) + 1 FROM mails WHERE id < ?), 0)",
      );
      params.push(query.before, query.before);
    }
    if (query.subject !== undefined) {
      where.push("instr(subject_fold, ?) > 0");
      params.push(foldCase(query.subject));
    }
    if (query.recipient !== undefined) {
      where.push("id IN (SELECT id FROM recipients WHERE address = ?)");
      params.push(canonicalOrSelf(query.recipient));
    }
    if (query.tag !== undefined) {
      where.push("id IN (SELECT id FROM tags WHERE tag = ?)");
      params.push(query.tag);
    }
    return { where: where.length ? `WHERE ${where.join(" AND ")}` : "", params };
  }

  /**
   * Segment `segment` moved to archive/: the mail's accepted record, when it was there, is
   * read from archive/ now (`archivedAt`: where the copy holds it), and a mail no live
   * segment holds lets go of its blobs.
   */
  markArchived(id: MailId, segment: number, stillLive: boolean, archivedAt: Location | undefined): void {
    const entry = this.get(id);
    if (!entry) return;
    const moved = !entry.location.archived && entry.location.segment === segment && archivedAt !== undefined;
    const releases = !stillLive && entry.blobs.length > 0;
    if (!moved && !releases) return;
    if (moved) entry.location = archivedAt;
    if (releases) entry.blobs = [];
    this.touch(entry);
    this.scheduleFlush();
  }

  /** Forgets the mails whose accepted record was in an archived segment that retention deleted. */
  forgetArchivedSegment(segment: number): number {
    this.flush();
    const rows = this.db
      .query<{ entry: string }, [number]>("SELECT entry FROM mails WHERE archived = 1 AND segment = ?")
      .all(segment);
    this.db.transaction(() => {
      const mail = this.db.query<unknown, [string]>("DELETE FROM mails WHERE id = ?");
      const recipient = this.db.query<unknown, [string, string]>("DELETE FROM recipients WHERE address = ? AND id = ?");
      const key = this.db.query<unknown, [string, string]>("DELETE FROM keys WHERE key = ? AND id = ?");
      const tag = this.db.query<unknown, [string, string]>("DELETE FROM tags WHERE tag = ? AND id = ?");
      for (const row of rows) {
        const entry = JSON.parse(row.entry) as MailEntry;
        mail.run(entry.id);
        for (const r of entry.recipients) recipient.run(canonicalOrSelf(r.address), entry.id);
        if (entry.idempotencyKey) key.run(entry.idempotencyKey, entry.id);
        for (const t of entry.tags ?? []) tag.run(t, entry.id);
      }
    })();
    return rows.length;
  }

  /** Forgets idempotency keys last used before `before` (every window is a day at most). */
  forgetKeysBefore(before: string): void {
    this.flush();
    this.db.query<unknown, [string]>("DELETE FROM keys WHERE ts < ?").run(before);
  }

  /** After a rebuild: mails no live segment holds let go of their blobs, as archiving them live did. */
  releaseArchivedBlobs(): void {
    this.flush();
    this.db
      .query(
        `UPDATE mails SET blobs = NULL, entry = json_set(entry, '$.blobs', json('[]'))
         WHERE archived = 1 AND blobs IS NOT NULL AND id NOT IN (SELECT id FROM segment_mails)`,
      )
      .run();
  }

  /** sha256s of the blobs that mails in the index still refer to. */
  referencedBlobs(): Set<string> {
    this.flush();
    const referenced = new Set<string>();
    for (const { blobs } of this.db
      .query<{ blobs: string }, []>("SELECT blobs FROM mails WHERE blobs IS NOT NULL")
      .all())
      for (const sha of JSON.parse(blobs) as string[]) referenced.add(sha);
    return referenced;
  }

  /**
   * Attempts that ended at or after `since`: how many, and how many did not end `sent`.
   * Forgets those that ended before `forgetBefore` (the console's chart shows a day of them).
   */
  attemptsEndedSince(since: string, forgetBefore: string): { total: number; failed: number } {
    this.flush();
    this.db.query<unknown, [string]>("DELETE FROM attempt_ends WHERE ended_at < ?").run(forgetBefore);
    const row = this.db
      .query<{ total: number; failed: number | null }, [string]>(
        "SELECT count(*) AS total, sum(failed) AS failed FROM attempt_ends WHERE ended_at >= ?",
      )
      .get(since);
    return { total: row?.total ?? 0, failed: row?.failed ?? 0 };
  }

  /**
   * Per UTC hour since `since` ("YYYY-MM-DDTHH" keys): mails accepted, and attempts that
   * ended sent or not. Reads only that window: acceptance order (seq) is searched for its start.
   */
  activitySince(since: string): Map<string, { accepted: number; sent: number; failed: number }> {
    this.flush();
    const hours = new Map<string, { accepted: number; sent: number; failed: number }>();
    const hour = (key: string) => {
      let value = hours.get(key);
      if (!value) hours.set(key, (value = { accepted: 0, sent: 0, failed: 0 }));
      return value;
    };
    const first = this.firstSeqAcceptedSince(since);
    for (const row of this.db
      .query<{ h: string; n: number }, [number, string]>(
        "SELECT substr(accepted_at, 1, 13) AS h, count(*) AS n FROM mails WHERE seq >= ? AND accepted_at >= ? GROUP BY h",
      )
      .all(first, since))
      hour(row.h).accepted += row.n;
    for (const row of this.db
      .query<{ h: string; n: number; f: number }, [string]>(
        "SELECT substr(ended_at, 1, 13) AS h, count(*) AS n, sum(failed) AS f FROM attempt_ends WHERE ended_at >= ? GROUP BY h",
      )
      .all(since)) {
      hour(row.h).sent += row.n - row.f;
      hour(row.h).failed += row.f;
    }
    return hours;
  }

  /** The first place in acceptance order whose mail was accepted at or after `since` (a binary search over seq). */
  private firstSeqAcceptedSince(since: string): number {
    const at = this.db.query<{ accepted_at: string }, [number]>(
      "SELECT accepted_at FROM mails WHERE seq >= ? ORDER BY seq LIMIT 1",
    );
    let low = 0;
    let high = this.nextSeq;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const found = at.get(middle);
      if (!found || found.accepted_at >= since) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** Whether every mail with records in this segment is finished by `finished`'s rule (in SQL terms). */
  unfinishedIn(segment: number, retentionEdge: string): number {
    this.flush();
    const pinned = this.segments.mails(segment).filter((id) => this.sending.has(id)).length;
    const row = this.db
      .query<{ n: number }, [number, string, string]>(
        `SELECT count(*) AS n FROM segment_mails AS s JOIN mails AS m ON m.id = s.id
         WHERE s.segment = ? AND NOT (m.state IN ('sent', 'cancelled')
           OR (? != '' AND m.state IN ('partial', 'failed') AND m.accepted_at < ?))`,
      )
      .get(segment, retentionEdge, retentionEdge);
    return (row?.n ?? 0) + pinned;
  }

  countByState(): Record<MailState, number> {
    this.flush();
    const counts = { scheduled: 0, queued: 0, sending: 0, deferred: 0, sent: 0, partial: 0, failed: 0, cancelled: 0 };
    for (const row of this.db
      .query<{ state: MailState; n: number }, []>("SELECT state, count(*) AS n FROM mails GROUP BY state")
      .all())
      counts[row.state] += row.n;
    for (const before of this.sending.values()) {
      counts[before] -= 1;
      counts.sending += 1;
    }
    return counts;
  }

  close(): void {
    this.flush();
    closeIndexFile(this.db);
  }
}

/** The columns a mail is found by, and the entry itself (stored with the state its records give it, never `sending`). */
function mailRow(entry: MailEntry, before: MailState | undefined): Binding[] {
  const stored = before !== undefined && entry.state === "sending" ? { ...entry, state: before } : entry;
  const last = entry.attempts.at(-1);
  return [
    entry.id,
    stored.state,
    entry.acceptedAt,
    entry.client,
    foldCase(entry.subject),
    entry.location.segment,
    entry.location.archived ? 1 : 0,
    entry.nextAttemptAt ?? null,
    last && !last.endedAt ? 1 : 0,
    entry.blobs.length ? JSON.stringify(entry.blobs) : null,
    JSON.stringify(stored),
  ];
}

function loadSegmentTotals(db: IndexDb): SegmentTotals {
  const totals = new SegmentTotals();
  for (const row of db.query<{ segment: number; totals: string }, []>("SELECT segment, totals FROM segments").all())
    totals.add(row.segment, JSON.parse(row.totals) as Totals);
  totals.changed = false;
  return totals;
}

function entryFromAccepted(record: AcceptedRecord, location: Location): MailEntry {
  const { mail } = record;
  const recipients: RecipientStatus[] = [];
  for (const kind of ["to", "cc", "bcc"] as const) {
    for (const a of mail[kind]) recipients.push({ address: a.address, name: a.name, kind, state: "pending" });
  }
  return {
    id: record.id,
    // a scheduled mail waits for its time in the index: nextAttemptAt orders the mails the scheduler releases
    state: mail.sendAt ? "scheduled" : "queued",
    ...(mail.sendAt ? { nextAttemptAt: mail.sendAt } : {}),
    ...(mail.tags?.length ? { tags: mail.tags } : {}),
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

/**
 * What an outcome record changes in its mail: the fold's own step, and what an attempt's
 * end is decided from when the outcome is written with it (run-attempt.ts).
 */
export function applyOutcome(
  entry: MailEntry,
  record: Pick<OutcomeRecord, "attempt" | "ts" | "transaction" | "recipients">,
): void {
  const attempt = attemptOf(entry, record.attempt, record.ts);
  attempt.transactions.push(record.transaction);
  if (record.recipients.length === 0 && record.transaction.code !== 250) noteUpstreamFailure(entry, record.transaction);
  for (const outcome of record.recipients) {
    const recipient = findRecipient(entry, outcome.address);
    if (!recipient) continue;
    recipient.state = outcome.state;
    recipient.lastError =
      outcome.state === "sent"
        ? undefined
        : (outcome.error ?? `${record.transaction.code} ${record.transaction.response}`);
  }
}

/**
 * What an attempt record or a cancel record changes in its mail: the fold's own step, and
 * what an event webhook says of the mail before the record is written (webhooks.ts).
 */
export function applyAttemptEnd(
  entry: MailEntry,
  record: Pick<AttemptRecord, "attempt" | "ts" | "state" | "nextAttemptAt" | "error">,
): void {
  Object.assign(attemptOf(entry, record.attempt, record.ts), {
    endedAt: record.ts,
    state: record.state,
    nextAttemptAt: record.nextAttemptAt,
    error: record.error,
  });
  entry.state = record.state;
  entry.nextAttemptAt = record.nextAttemptAt;
  settleOpenRecipients(entry);
}

export function applyCancel(entry: MailEntry): void {
  entry.state = "cancelled";
  entry.nextAttemptAt = undefined;
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
