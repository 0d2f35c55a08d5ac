// Which live segments hold records of which mails, and each segment's newest record and
// event counts: what the compactor needs to know whether a segment can move to archive/.
// Kept in the index's SQLite file beside the mails; segments themselves are few and stay
// in memory too.
import type { MailId } from "../types.js";
import { memoryIndexDb, type IndexDb } from "./index-db.js";
import type { SegmentTotals } from "./totals.js";

export class SegmentMap {
  private readonly newest = new Map<number, string>();
  /** `segment\tid` pairs not written yet. */
  private readonly added = new Set<string>();
  private readonly changedSegments = new Set<number>();
  private readonly removedSegments = new Set<number>();

  constructor(private readonly db: IndexDb = memoryIndexDb()) {
    for (const row of db.query<{ segment: number; newest: string }, []>("SELECT segment, newest FROM segments").all())
      this.newest.set(row.segment, row.newest);
  }

  get pending(): boolean {
    return this.added.size > 0 || this.changedSegments.size > 0 || this.removedSegments.size > 0;
  }

  add(segment: number, id: MailId, ts: string): void {
    this.added.add(`${segment}\t${id}`);
    if ((this.newest.get(segment) ?? "") < ts) {
      this.newest.set(segment, ts);
      this.changedSegments.add(segment);
    }
  }

  /** Writes what was added (inside the index's transaction), with the segments' counts. */
  write(totals: SegmentTotals): void {
    this.writeAdded();
    if (totals.changed) for (const segment of this.newest.keys()) this.changedSegments.add(segment);
    const put = this.db.query<unknown, [number, string, string]>(
      "INSERT OR REPLACE INTO segments (segment, newest, totals) VALUES (?, ?, ?)",
    );
    for (const segment of this.changedSegments)
      if (this.newest.has(segment)) put.run(segment, this.newest.get(segment)!, JSON.stringify(totals.of(segment)));
    const drop = this.db.query<unknown, [number]>("DELETE FROM segments WHERE segment = ?");
    for (const segment of this.removedSegments) drop.run(segment);
    this.changedSegments.clear();
    this.removedSegments.clear();
    totals.changed = false;
  }

  segments(): number[] {
    return [...this.newest.keys()].sort((a, b) => a - b);
  }

  mails(segment: number): MailId[] {
    this.writeAdded();
    return this.db
      .query<{ id: string }, [number]>("SELECT id FROM segment_mails WHERE segment = ?")
      .all(segment)
      .map((r) => r.id);
  }

  /** The live segments holding records of this mail. */
  segmentsOf(id: MailId): number[] {
    this.writeAdded();
    return this.db
      .query<{ segment: number }, [string]>("SELECT segment FROM segment_mails WHERE id = ? ORDER BY segment")
      .all(id)
      .map((r) => r.segment)
      .filter((s) => this.newest.has(s));
  }

  /** Which mails have records in which segment: written ahead of the index's transaction when a reader asks (a pair is a fact of the segments, whenever it is written). */
  private writeAdded(): void {
    if (this.added.size === 0) return;
    const pair = this.db.query<unknown, [number, string]>(
      "INSERT OR IGNORE INTO segment_mails (segment, id) VALUES (?, ?)",
    );
    for (const added of this.added) {
      const tab = added.indexOf("\t");
      pair.run(Number(added.slice(0, tab)), added.slice(tab + 1));
    }
    this.added.clear();
  }

  newestRecord(segment: number): string {
    return this.newest.get(segment) ?? "";
  }

  /** Forgets an archived segment; returns the mails that have no live segment left. */
  remove(segment: number): MailId[] {
    const ids = this.mails(segment);
    this.newest.delete(segment);
    this.removedSegments.add(segment);
    this.db.query<unknown, [number]>("DELETE FROM segment_mails WHERE segment = ?").run(segment);
    return ids.filter((id) => this.segmentsOf(id).length === 0);
  }
}
