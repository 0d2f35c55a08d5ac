// How far this host has copied each other host's records: the highest origin position
// seen per host. Kept by the index with its own position (a counting observer), so after
// a restart copying resumes exactly where the spool says it stopped.
import type { CountingObserver } from "../spool/spool.js";
import type { SpoolRecord } from "../spool/record.js";

export class JournalMarks implements CountingObserver {
  private marks = new Map<string, number>();
  private readonly listeners: (() => void)[] = [];

  observe(record: SpoolRecord): void {
    if (!record.via) return;
    if (record.via.pos > (this.marks.get(record.via.host) ?? 0)) {
      this.marks.set(record.via.host, record.via.pos);
      for (const listener of this.listeners) listener();
    }
  }

  /** Every record of `host` up to `pos` is in this host's spool. */
  has(host: string, pos: number): boolean {
    return (this.marks.get(host) ?? 0) >= pos;
  }

  /** This host has copied records of others (it has been in a cluster). */
  get any(): boolean {
    return this.marks.size > 0;
  }

  of(host: string): number {
    return this.marks.get(host) ?? 0;
  }

  onAdvance(listener: () => void): void {
    this.listeners.push(listener);
  }

  state(): unknown {
    return Object.fromEntries(this.marks);
  }

  restore(state: unknown): void {
    this.marks = new Map(
      typeof state === "object" && state !== null
        ? Object.entries(state).filter((e): e is [string, number] => typeof e[1] === "number")
        : [],
    );
  }
}
