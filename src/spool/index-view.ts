// A CLI reader's view of the spool: the index file as one read transaction saw it, with
// the records past its position (what the server has not written to it yet, or what a
// stop left unfolded) folded into a small in-memory index that is consulted first. Counts
// are the file's, less the file's version of each mail the tail changed, plus the tail's;
// lists merge both in acceptance order. Time and memory grow with the tail, not with history.
import type { MailId, MailState } from "../types.js";
import { MailIndex, type MailEntry } from "./mail-index.js";
import type { MailReader, ReaderQuery } from "./mail-reader.js";
import type { SpoolRecord } from "./record.js";
import type { Location } from "./segment.js";

export class IndexView implements MailReader {
  private readonly tail: MailIndex;
  /** The file's version of each mail the tail holds: what the file counts that the tail now counts. */
  private readonly replaced = new MailIndex();
  private readonly taken = new Set<MailId>();

  constructor(private readonly file: MailIndex) {
    this.tail = MailIndex.after(file);
  }

  /** Folds a record that lies past the file's position. */
  apply(record: SpoolRecord, location: Location): void {
    if (record.type !== "webhook" && !this.taken.has(record.id)) {
      const known = this.file.get(record.id);
      if (known) {
        const seq = this.file.seqs([record.id]).get(record.id)!;
        this.taken.add(record.id);
        this.replaced.adopt(known, seq);
        if (record.type !== "accepted") this.tail.adopt(structuredClone(known), seq);
      }
    }
    this.tail.apply(record, location);
  }

  get(id: MailId): MailEntry | undefined {
    return this.tail.get(id) ?? (this.taken.has(id) ? undefined : this.file.get(id));
  }

  get size(): number {
    return this.file.size - this.replaced.size + this.tail.size;
  }

  countByState(): Record<MailState, number> {
    const counts = this.file.countByState();
    const less = this.replaced.countByState();
    const more = this.tail.countByState();
    for (const state of Object.keys(counts) as MailState[]) counts[state] += more[state] - less[state];
    return counts;
  }

  countMatching(query: Omit<ReaderQuery, "limit">): number {
    return this.file.countMatching(query) - this.replaced.countMatching(query) + this.tail.countMatching(query);
  }

  list(query: ReaderQuery): MailEntry[] {
    const fromFile = this.file.list({ ...query, limit: query.limit + this.taken.size });
    return this.merged(fromFile, this.tail.list(query), -1).slice(0, query.limit);
  }

  inStates(states: readonly MailState[]): MailEntry[] {
    return this.merged(this.file.inStates(states), this.tail.inStates(states), 1);
  }

  /** The file's entries (less those the tail took) and the tail's, in acceptance order (1) or newest first (-1). */
  private merged(fromFile: MailEntry[], fromTail: MailEntry[], order: 1 | -1): MailEntry[] {
    if (this.taken.size === 0 && fromTail.length === 0) return fromFile;
    const kept = fromFile.filter((entry) => !this.taken.has(entry.id));
    const seqs = this.file.seqs(kept.map((entry) => entry.id));
    for (const [id, seq] of this.tail.seqs(fromTail.map((entry) => entry.id))) seqs.set(id, seq);
    return [...kept, ...fromTail].sort((a, b) => order * (seqs.get(a.id)! - seqs.get(b.id)!));
  }

  close(): void {
    this.tail.close();
    this.replaced.close();
  }
}
