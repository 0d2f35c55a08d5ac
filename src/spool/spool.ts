// The Spool: the single source of truth. Opens (and for serve, locks and repairs) the data
// directory, rebuilds the index, appends records through the one segment writer, and
// refuses intake when the disk is below its reserve.
import fs from "node:fs";
import path from "node:path";
import { MailspoolError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Mail, MailId } from "../types.js";
import { readArchiveTotals, settleInterruptedArchiving, type ArchiveTotals } from "./archive-totals.js";
import { BlobStore } from "./blobs.js";
import { acquireLock } from "./lock.js";
import { MailIndex, type IndexPosition, type MailEntry } from "./mail-index.js";
import {
  decodeRecord,
  encodeRecordBytes,
  recordVersion,
  type AcceptedRecord,
  type NewRecord,
  type SpoolRecord,
} from "./record.js";
import { IndexPositionError, recoverSegments, type RecoveryResult } from "./recover.js";
import { openIndexFile, removeIndexFile } from "./index-db.js";
import { ReadHandles } from "./read-handles.js";
import { SegmentWriter, type Location, type SegmentIo } from "./segment.js";
import { listSegments, segmentName } from "./segment-files.js";
import type { SegmentMap } from "./segment-map.js";
import { addTotals, type Totals } from "./totals.js";

export interface SpoolOptions {
  dataDir: string;
  log: Logger;
  /** Free bytes below which intake answers 507; -1 = off. */
  minFreeBytes: number;
  segmentMaxBytes?: number;
  io?: SegmentIo;
  now?: () => Date;
  /** Called after every group commit: lines in it and seconds it took. */
  onCommit?: (lines: number, seconds: number) => void;
  /** Called for every record folded into the index, at recovery and live. */
  observers?: ((record: SpoolRecord) => void)[];
  /** Observers whose counts the index keeps (by name) with its position: serve's start-up restores them, then they see only new records. */
  counters?: Record<string, CountingObserver>;
}

export interface CountingObserver {
  observe(record: SpoolRecord): void;
  state(): unknown;
  /** undefined: start from nothing (the index is rebuilt from every record). */
  restore(state: unknown): void;
}

export interface SpoolPaths {
  data: string;
  spool: string;
  blobs: string;
  corrupt: string;
  failed: string;
  pickup: string;
  outbox: string;
  archive: string;
  lock: string;
}

/** The index file (index-db.ts): derived from the segments, rebuilt when missing. */
export function indexFile(dataDir: string): string {
  return path.join(dataDir, "index.sqlite");
}

export function spoolPaths(dataDir: string): SpoolPaths {
  const at = (name: string) => path.join(dataDir, name);
  return {
    data: dataDir,
    spool: at("spool"),
    blobs: at("blobs"),
    corrupt: at("corrupt"),
    failed: at("failed"),
    pickup: at("pickup"),
    outbox: at("outbox"),
    archive: at("archive"),
    lock: at("lock"),
  };
}

const freeSpaceCheckMs = 250;

/**
 * How long a commit holding only lingering records waits for more before its fdatasync
 * (segment.ts). Delivery asks for it while every upstream connection is busy: other
 * outcomes are then due within a moment and one fdatasync carries them all. Intake never
 * lingers, and an append that does not linger ends a linger at once, so the ack of an
 * accepted mail waits for no linger.
 */
export const recordLingerMs = 1;

export interface AppendOptions {
  /** May wait up to recordLingerMs for company in its commit (still durable before it resolves). */
  linger?: boolean;
}

/** One mail of a batch, as Spool.acceptMany takes it. */
export interface AcceptedMail {
  id: MailId;
  mail: Mail;
  idempotency?: { key: string; requestHash?: string };
}

/**
 * The temp files of whole-file writes (writeFileDurably: an outbox message, the failed view)
 * that a crash left behind. Only at start, under the lock: no such write is in flight then. In
 * a cluster such a mail is written again by another host, so nothing here would replace it.
 */
function removeUnfinishedWrites(dirs: string[]): number {
  let removed = 0;
  for (const dir of dirs)
    for (const name of fs.readdirSync(dir))
      if (name.endsWith(".tmp")) {
        fs.rmSync(path.join(dir, name), { force: true });
        removed += 1;
      }
  return removed;
}

export class Spool {
  index: MailIndex;
  readonly paths: SpoolPaths;
  readonly blobs: BlobStore;
  private writer: SegmentWriter | null = null;
  private releaseLock: (() => void) | null = null;
  private readonly readHandles = new ReadHandles();
  private readonly appendListeners: ((record: SpoolRecord, location: Location) => void)[] = [];
  private freeBytes = Number.POSITIVE_INFINITY;
  private freeCheckedAt = 0;
  recovery: RecoveryResult | null = null;
  /** The counts of the archived segments (archive/totals.json); the compactor moves each archived segment's counts here. */
  archived: ArchiveTotals;

  private constructor(private readonly options: SpoolOptions) {
    this.paths = spoolPaths(options.dataDir);
    this.blobs = new BlobStore(this.paths.blobs);
    this.archived = readArchiveTotals(this.paths.archive, options.log);
    this.index = new MailIndex();
  }

  /** Live segments → mails, for the compactor. */
  get segments(): SegmentMap {
    return this.index.segments;
  }

  /** For serve: lock the directory, repair torn tails, and open the writer. */
  static open(options: SpoolOptions): Spool {
    const spool = new Spool(options);
    for (const dir of ["spool", "blobs", "corrupt", "failed", "pickup", "outbox", "archive"] as const) {
      fs.mkdirSync(spool.paths[dir], { recursive: true });
    }
    spool.releaseLock = acquireLock(spool.paths.lock);
    try {
      const leftovers = spool.blobs.removeLeftoverTemps();
      if (leftovers) options.log.info({ leftovers }, "removed temp files of uploads unfinished at the last stop");
      const writes = removeUnfinishedWrites([spool.paths.outbox, spool.paths.failed]);
      if (writes) options.log.info({ leftovers: writes }, "removed temp files of writes unfinished at the last stop");
      settleInterruptedArchiving(spool.paths, spool.archived, options.log);
      spool.loadIndexed();
      const { lastSegment, lastSize } = spool.recovery!;
      // numbers are never reused: when archive/ holds (or held, before retention) a segment
      // numbered past the last live one, writing goes on in a new segment past it, so that a
      // later rotation cannot land on an archived number
      const highestArchived = [...listSegments(spool.paths.archive), ...spool.archived.segments].reduce(
        (a, b) => Math.max(a, b),
        0,
      );
      const continueLast = listSegments(spool.paths.spool).length > 0 && lastSegment > highestArchived;
      const first = continueLast ? lastSegment : Math.max(lastSegment, highestArchived + 1);
      spool.writer = new SegmentWriter(spool.paths.spool, first, continueLast ? lastSize : 0, {
        maxBytes: options.segmentMaxBytes ?? 64 * 1024 * 1024,
        log: options.log,
        io: options.io,
        onCommit: options.onCommit,
      });
    } catch (error) {
      spool.releaseLock();
      throw error;
    }
    return spool;
  }

  /** Every segment folded into an index in memory, archive/ included: never locks, never writes; torn tails are skipped. What a CLI reader falls back to when the index file cannot be used (spool-reader.ts). */
  static read(options: Pick<SpoolOptions, "dataDir" | "log" | "observers">): Spool {
    const spool = new Spool({ ...options, minFreeBytes: -1 });
    if (fs.existsSync(spool.paths.spool)) spool.load({ repair: false, from: null });
    spool.index.releaseArchivedBlobs();
    return spool;
  }

  /**
   * serve's start-up: the index file (index-db.ts) has folded the spool up to its position,
   * so only what lies past it is read. A missing, unusable or misplaced index is rebuilt
   * from every segment, archive/ included.
   */
  private loadIndexed(): void {
    const file = indexFile(this.options.dataDir);
    let opened = openIndexFile(file);
    if (!opened) {
      this.options.log.warn({ file }, "the spool index is unusable; rebuilding it from the segments");
      removeIndexFile(file);
      opened = openIndexFile(file);
      if (!opened) throw new Error(`cannot create the spool index ${file}`);
    }
    this.index.db.close();
    this.useIndex(new MailIndex(opened.db, this.options.log));
    let from = resumePoint(this.index.position, this.paths, this.archived);
    try {
      this.load({ repair: true, from });
    } catch (error) {
      if (!(error instanceof IndexPositionError)) throw error;
      this.options.log.warn({ file, reason: error.message }, "the spool index does not fit the spool; rebuilding it");
      this.index.db.close();
      removeIndexFile(file);
      this.useIndex(new MailIndex(openIndexFile(file)!.db, this.options.log));
      from = null;
      this.load({ repair: true, from });
    }
    if (from === null) this.index.releaseArchivedBlobs();
    this.index.position ??= { segment: 0, offset: 0 };
    this.index.flush();
    this.index.markComplete();
  }

  /** Takes the index and hands it the counters: restored from it, written with it. */
  private useIndex(index: MailIndex): void {
    this.index = index;
    const counters = Object.entries(this.options.counters ?? {});
    for (const [name, counter] of counters) counter.restore(index.savedCounter(name));
    index.counters = () => counters.map(([name, counter]) => [name, counter.state()]);
  }

  /** Folds the segments into the index: from `from` on, or all of them with archive/ (a rebuild, or a reader). */
  private load({ repair, from }: { repair: boolean; from: IndexPosition | null }): void {
    const started = Date.now();
    this.recovery = recoverSegments({
      spoolDir: this.paths.spool,
      ...(from ? { from } : fs.existsSync(this.paths.archive) ? { archiveDir: this.paths.archive } : {}),
      corruptDir: this.paths.corrupt,
      repair,
      log: this.options.log,
      onRecord: (record, location) => this.applyRecord(record, location),
    });
    const folded = from ? "past the index's position" : "all segments";
    this.options.log.info({ ...this.recovery, folded, ms: Date.now() - started }, "spool loaded");
  }

  /** Closes the segment being written (after pending commits) so it can be archived. */
  async closeCurrentSegment(): Promise<void> {
    await this.writer?.startNewSegment();
  }

  /** The segment being written: never archived. */
  get currentSegment(): number {
    return this.writer?.currentSegment ?? Number.POSITIVE_INFINITY;
  }

  get commitStats() {
    return this.writer?.stats ?? { batches: 0, lines: 0 };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Throws 507 when the spool disk is below its reserve (checked at most every 250 ms). */
  checkCapacity(): void {
    if (this.options.minFreeBytes < 0) return;
    const now = Date.now();
    if (now - this.freeCheckedAt >= freeSpaceCheckMs) {
      const stats = fs.statfsSync(this.paths.spool);
      this.freeBytes = stats.bavail * stats.bsize;
      this.freeCheckedAt = now;
    }
    if (this.freeBytes < this.options.minFreeBytes) {
      throw new MailspoolError("insufficient_storage", "Spool disk is below its free-space reserve");
    }
  }

  /** Event totals of every mail the spool has held: archived ones and live ones. Never decrease. */
  totals(): Totals {
    const totals = { ...this.index.totals.sum };
    addTotals(totals, this.archived);
    return totals;
  }

  get availableBytes(): number {
    return this.freeBytes;
  }

  /** Appends the accepted record; resolves once it is durable. */
  async accept(
    id: MailId,
    mail: Mail,
    client: string,
    idempotency?: { key: string; requestHash?: string },
  ): Promise<void> {
    this.checkCapacity();
    await this.append({
      type: "accepted",
      id,
      client,
      mail,
      ...(idempotency ? { idempotencyKey: idempotency.key, requestHash: idempotency.requestHash } : {}),
    });
  }

  /** Appends the accepted records of a batch in one commit; resolves once all are durable (or fails for all). */
  async acceptMany(mails: AcceptedMail[], client: string): Promise<void> {
    this.checkCapacity();
    if (!this.writer) throw new Error("spool is read-only");
    const ts = this.now().toISOString();
    const records = mails.map(
      ({ id, mail, idempotency }) =>
        ({
          v: recordVersion,
          type: "accepted",
          id,
          ts,
          client,
          mail,
          ...(idempotency ? { idempotencyKey: idempotency.key, requestHash: idempotency.requestHash } : {}),
        }) as SpoolRecord,
    );
    const locations = await this.writer.appendAll(records.map(encodeRecordBytes));
    records.forEach((record, i) => this.applyRecord(record, locations[i]!));
    records.forEach((record, i) => this.announce(record, locations[i]!));
  }

  /** Appends a record and folds it into the index once it is durable. */
  async append(record: NewRecord, options?: AppendOptions): Promise<SpoolRecord> {
    const [appended] = await this.appendAll([record], options);
    return appended!;
  }

  /**
   * Appends records as one write (a kill never keeps some of them without the others) and
   * folds them, in order, once they are durable.
   */
  async appendAll(records: NewRecord[], options?: AppendOptions): Promise<SpoolRecord[]> {
    if (!this.writer) throw new Error("spool is read-only");
    const ordered = records.map(({ type, id, ts, ...rest }) => {
      return { v: recordVersion, type, id, ts: ts ?? this.now().toISOString(), ...rest } as SpoolRecord;
    });
    const lines = ordered.map(encodeRecordBytes);
    const at = await this.writer.append(
      lines.length === 1 ? lines[0]! : Buffer.concat(lines),
      options?.linger ? recordLingerMs : 0,
    );
    let offset = at.offset;
    const locations = ordered.map((record, i) => {
      const location = { ...at, offset, length: lines[i]!.length };
      this.applyRecord(record, location);
      offset += lines[i]!.length;
      return location;
    });
    ordered.forEach((record, i) => this.announce(record, locations[i]!));
    return ordered;
  }

  private announce(record: SpoolRecord, location: Location): void {
    for (const listener of this.appendListeners) listener(record, location);
  }

  /** Called for every record appended from now on, once it is durable and folded, in spool order. */
  onAppend(listener: (record: SpoolRecord, location: Location) => void): void {
    this.appendListeners.push(listener);
  }

  private applyRecord(record: SpoolRecord, location: Location): void {
    this.index.apply(record, location);
    for (const observe of this.options.observers ?? []) observe(record);
    for (const counter of Object.values(this.options.counters ?? {})) counter.observe(record);
  }

  /** `entry` defaults to the index's. */
  async readAccepted(id: MailId, entry = this.index.get(id)): Promise<AcceptedRecord> {
    return readAcceptedRecord(this.paths, this.readHandles, id, entry);
  }

  async close(): Promise<void> {
    await this.writer?.close();
    this.writer = null;
    this.index.close();
    this.readHandles.close();
    this.releaseLock?.();
    this.releaseLock = null;
  }
}

/** The accepted record of mail `id`, read where its index entry says it lies. */
export async function readAcceptedRecord(
  paths: SpoolPaths,
  handles: ReadHandles,
  id: MailId,
  entry: MailEntry | undefined,
): Promise<AcceptedRecord> {
  if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
  const { segment, offset, length } = entry.location;
  const file = path.join(entry.location.archived ? paths.archive : paths.spool, segmentName(segment));
  const buffer = await handles.readNear(file, offset, length);
  const decoded = decodeRecord(buffer.toString("utf8", 0, buffer.length - 1));
  if (!decoded.ok || decoded.record.type !== "accepted")
    throw new MailspoolError(
      "internal",
      `the accepted record of mail ${id} is damaged on disk; mailspool fsck finds it and --repair quarantines it`,
    );
  return decoded.record;
}

/** Where folding resumes past an index's position (a segment archived since then: the next one). */
export function resumePoint(
  position: IndexPosition | null,
  paths: SpoolPaths,
  archived: ArchiveTotals,
): IndexPosition | null {
  if (!position) return null;
  if (archived.segments.includes(position.segment) && !listSegments(paths.spool).includes(position.segment))
    return { segment: position.segment + 1, offset: 0 };
  return position;
}
