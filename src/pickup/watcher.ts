// data/pickup: the hand-off directory. Every *.json entry (never *.tmp or dotfiles) is
// ingested (apply-pickup-file.ts: a new mail, a replay or a cancel) then removed. The file
// name is the idempotency key, so a crash between spooling and unlinking ingests it once
// (used-name.ts: another file under a used name is refused, never dropped). Only regular
// files are read (pickup-entry.ts); anything unusable moves to pickup/rejected/ with a
// .reason.txt beside it and one log line. A spool I/O error leaves the file for the next
// scan (logged once per distinct error). One slow entry never holds the others up: a scan
// waits entryTimeoutMs for it, then goes on and skips it until its handling ends. Batch
// results (pickup/done/) left unread are pruned at start and then at most once a minute.
import fs from "node:fs";
import path from "node:path";
import { MailspoolError } from "../errors.js";
import type { Intake } from "../intake/intake.js";
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import { settleWithin } from "../time-limit.js";
import { applyPickupFile, type PickupActions } from "./apply-pickup-file.js";
import { pruneBatchResults } from "./batch-results.js";
import { pickupMaxBytes, readPickupEntry, refusalOf } from "./pickup-entry.js";
import { moveToRejected } from "./rejected-dir.js";
import { decodeUtf8 } from "../utf8.js";

export interface PickupOptions {
  spool: Spool;
  intake: Intake;
  actions: PickupActions;
  log: Logger;
  intervalMs?: number;
  /** How long a scan waits on one entry before going on without it. */
  entryTimeoutMs?: number;
  /** Fault injection: how an entry that passed lstat is read. */
  readEntry?: (file: string, maxBytes: number) => Promise<Buffer>;
}

const defaultEntryTimeoutMs = 5_000;
const pruneEveryMs = 60_000;

/** What tells one entry under a name from another put there later (or rewritten in place). */
const identityOf = (stats: fs.Stats) => `${stats.dev}:${stats.ino}:${stats.mode}:${stats.size}:${stats.mtimeMs}`;

export class PickupWatcher {
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private stopped = false;
  private readonly dir: string;
  /** Entries whose handling outlived entryTimeoutMs: skipped until it ends. */
  private readonly running = new Set<string>();
  /** Refused entries that could not be moved, by name → identity: left alone while unchanged. */
  private readonly unmovable = new Map<string, string>();
  /** The same for names that are not UTF-8, by their bytes (hex). */
  private readonly unmovableRaw = new Set<string>();
  /** The last error logged for an entry that is retried, so each error is logged once. */
  private readonly lastFailure = new Map<string, string>();
  private listFailure: string | null = null;
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PickupOptions) {
    this.dir = options.spool.paths.pickup;
  }

  start(): void {
    this.timer = setInterval(() => void this.scan(), this.options.intervalMs ?? 1000);
    this.timer.unref();
    void this.scan();
  }

  /** Ends after the entry in hand (waited on for at most entryTimeoutMs); later ones wait for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.scanning;
  }

  /** One pass over the entries listed at its start; passes never overlap. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = null));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const names = await this.list();
    for (const name of names) {
      if (this.stopped) return;
      if (this.running.has(name)) continue;
      this.running.add(name);
      const work = this.ingest(name).finally(() => this.running.delete(name));
      const timeoutMs = this.options.entryTimeoutMs ?? defaultEntryTimeoutMs;
      if (!(await settleWithin(work, timeoutMs)))
        this.options.log.warn(
          { file: name, waitedMs: timeoutMs },
          "pickup entry is taking long (a stuck read?); the scan goes on without it",
        );
    }
    const present = new Set(names);
    for (const seen of [this.unmovable, this.lastFailure])
      for (const name of seen.keys()) if (!present.has(name)) seen.delete(name);
    await this.pruneResults();
  }

  private async pruneResults(): Promise<void> {
    if (Date.now() - this.prunedAt < pruneEveryMs) return;
    this.prunedAt = Date.now();
    try {
      const removed = await pruneBatchResults(this.dir);
      if (removed) this.options.log.info({ removed }, "removed old batch results from pickup/done/");
    } catch (error) {
      this.options.log.warn({ err: error }, "cannot prune pickup/done/");
    }
  }

  private async list(): Promise<string[]> {
    try {
      const raw = await fs.promises.readdir(this.dir, { encoding: "buffer" });
      this.listFailure = null;
      const names: string[] = [];
      for (const bytes of raw) {
        if (!bytes.toString("latin1").endsWith(".json") || bytes[0] === 0x2e) continue;
        const name = decodeUtf8(bytes);
        if (name !== null) names.push(name);
        else await this.rejectUndecodable(bytes);
      }
      return names.sort();
    } catch (error) {
      if (this.listFailure !== (error as Error).message)
        this.options.log.error({ err: error, dir: this.dir }, "cannot list the pickup directory");
      this.listFailure = (error as Error).message;
      return [];
    }
  }

  private async ingest(name: string): Promise<void> {
    const file = path.join(this.dir, name);
    const maxBytes = pickupMaxBytes(this.options.intake.limits.maxBodyBytes);
    let identity = "";
    try {
      const stats = await fs.promises.lstat(file);
      identity = identityOf(stats);
      if (this.unmovable.get(name) === identity) return;
      const refusal = refusalOf(stats, maxBytes);
      if (refusal) throw refusal;
      const bytes = await (this.options.readEntry ?? readPickupEntry)(file, maxBytes);
      if (this.stopped) return;
      await applyPickupFile(this.options, name, bytes);
      // a file put under the name meanwhile is another request: the next scan meets it
      if (identityOf(await fs.promises.lstat(file)) === identity) await fs.promises.unlink(file);
      this.lastFailure.delete(name);
    } catch (error) {
      if (error instanceof MailspoolError && error.status < 500) return this.reject(name, identity, error);
      this.failed(name, error);
    }
  }

  /** A name that is not UTF-8 cannot be handled (or even opened) by name as a string: it is refused by its bytes. */
  private async rejectUndecodable(bytes: Buffer): Promise<void> {
    const key = bytes.toString("hex");
    if (this.unmovableRaw.has(key)) return;
    const shown = bytes.toString("utf8");
    const reason = "the file name is not valid UTF-8; give the file a UTF-8 name\n";
    try {
      const movedTo = await moveToRejected(this.dir, shown, reason, bytes);
      this.options.log.warn({ file: shown, movedTo: `rejected/${movedTo}` }, "pickup file rejected: name is not UTF-8");
    } catch (moveError) {
      this.unmovableRaw.add(key);
      this.options.log.error(
        { file: shown, err: moveError },
        "pickup entry with a name that is not UTF-8 cannot be moved to rejected/; not reported again",
      );
    }
  }

  /** Logs an error once per entry and distinct message; an entry that vanished is no error. */
  private failed(name: string, error: unknown): void {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    const message = (error as Error).message;
    if (this.lastFailure.get(name) === message) return;
    this.lastFailure.set(name, message);
    this.options.log.error({ err: error, file: name }, "pickup file not ingested; will retry");
  }

  private async reject(name: string, identity: string, error: MailspoolError): Promise<void> {
    const { log } = this.options;
    const lines = [error.message, ...(error.errors?.map((e) => `${e.field}: ${e.message}`) ?? [])];
    const reason = { file: name, reason: error.message, fields: error.errors?.map((e) => e.field) };
    try {
      const movedTo = await moveToRejected(this.dir, name, `${lines.join("\n")}\n`);
      this.lastFailure.delete(name);
      log.warn({ ...reason, movedTo: `rejected/${movedTo}` }, "pickup file rejected");
    } catch (moveError) {
      if ((moveError as NodeJS.ErrnoException).code === "ENOENT") return;
      this.unmovable.set(name, identity);
      log.error(
        { ...reason, err: moveError },
        "pickup entry refused and it cannot be moved to rejected/; left in place and not reported again until it changes",
      );
    }
  }
}
