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
import { MailIndex } from "./mail-index.js";
import {
  decodeRecord,
  encodeRecord,
  recordVersion,
  type AcceptedRecord,
  type NewRecord,
  type SpoolRecord,
} from "./record.js";
import { ReadHandles } from "./read-handles.js";
import { recoverSegments, type RecoveryResult } from "./recover.js";
import { SegmentWriter, type Location, type SegmentIo } from "./segment.js";
import { listSegments, segmentName } from "./segment-files.js";
import { SegmentMap } from "./segment-map.js";
import { foldSplitMails } from "./split-mails.js";
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

export class Spool {
  readonly index = new MailIndex();
  /** Live segments → mails, for the compactor. */
  readonly segments = new SegmentMap();
  readonly paths: SpoolPaths;
  readonly blobs: BlobStore;
  private writer: SegmentWriter | null = null;
  private releaseLock: (() => void) | null = null;
  private readonly readHandles = new ReadHandles();
  private freeBytes = Number.POSITIVE_INFINITY;
  private freeCheckedAt = 0;
  recovery: RecoveryResult | null = null;
  /** The counts of the archived segments (archive/totals.json); the compactor moves each archived segment's counts here. */
  archived: ArchiveTotals;

  private constructor(private readonly options: SpoolOptions) {
    this.paths = spoolPaths(options.dataDir);
    this.blobs = new BlobStore(this.paths.blobs);
    this.archived = readArchiveTotals(this.paths.archive, options.log);
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
      settleInterruptedArchiving(spool.paths, spool.archived, options.log);
      spool.load(true);
      spool.foldSplitMails();
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

  /** For CLI readers: never locks, never writes; torn tails are skipped. */
  static read(options: Pick<SpoolOptions, "dataDir" | "log" | "observers">): Spool {
    const spool = new Spool({ ...options, minFreeBytes: -1 });
    if (fs.existsSync(spool.paths.archive)) spool.load(false, true);
    if (fs.existsSync(spool.paths.spool)) spool.load(false);
    return spool;
  }

  /** Mails split between archive/ and spool/ are folded from both (split-mails.ts): never half, never queued again. */
  private foldSplitMails(): void {
    const split = this.archived.split;
    if (Object.keys(split).length === 0) return;
    const folded = foldSplitMails({
      spoolDir: this.paths.spool,
      archiveDir: this.paths.archive,
      split,
      live: this.segments,
    });
    let mails = 0;
    for (const entry of folded.entries()) {
      this.index.put(entry);
      mails += 1;
    }
    this.options.log.info({ mails }, "folded the mails split between archive/ and spool/ from both");
  }

  /** Reads spool/ (or, for readers, archive/ first) into the index. */
  private load(repair: boolean, archived = false): void {
    const started = Date.now();
    this.recovery = recoverSegments({
      spoolDir: archived ? this.paths.archive : this.paths.spool,
      corruptDir: this.paths.corrupt,
      repair,
      archived,
      log: this.options.log,
      onRecord: (record, location) => this.applyRecord(record, location),
    });
    this.options.log.info({ ...this.recovery, mails: this.index.size, ms: Date.now() - started }, "spool loaded");
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

  /** Appends a record and folds it into the index once it is durable. */
  async append(record: NewRecord): Promise<SpoolRecord> {
    if (!this.writer) throw new Error("spool is read-only");
    const { type, id, ts, ...rest } = record;
    const ordered = { v: recordVersion, type, id, ts: ts ?? this.now().toISOString(), ...rest } as SpoolRecord;
    const location = await this.writer.append(encodeRecord(ordered));
    this.applyRecord(ordered, location);
    return ordered;
  }

  private applyRecord(record: SpoolRecord, location: Location): void {
    this.index.apply(record, location);
    if (!location.archived) this.segments.add(location.segment, record.id, record.ts);
    for (const observe of this.options.observers ?? []) observe(record);
  }

  /** `entry` defaults to the live index's; an archived mail's (archive-lookup.ts) may be passed. */
  async readAccepted(id: MailId, entry = this.index.get(id)): Promise<AcceptedRecord> {
    if (!entry) throw new MailspoolError("not_found", `no mail ${id}`);
    const { segment, offset, length } = entry.location;
    const file = path.join(entry.location.archived ? this.paths.archive : this.paths.spool, segmentName(segment));
    const buffer = await this.readHandles.read(file, offset, length);
    const decoded = decodeRecord(buffer.toString("utf8", 0, buffer.length - 1));
    if (!decoded.ok || decoded.record.type !== "accepted") throw new Error(`accepted record of ${id} is unreadable`);
    return decoded.record;
  }

  async close(): Promise<void> {
    await this.writer?.close();
    this.writer = null;
    this.readHandles.close();
    this.releaseLock?.();
    this.releaseLock = null;
  }
}
