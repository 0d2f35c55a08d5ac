// What a reader asks of the spool's mails, and never how they are kept: find one, list
// with filters newest first, count, the mails in some states. The server's index
// (mail-index.ts) answers it, and so does a CLI reader's view of the index file
// (index-view.ts) — the CLI commands see only this.
import type { MailId, MailState } from "../types.js";
import type { ListQuery, MailEntry } from "./mail-index.js";

/** A list query of a reader: newest first, every filter before the limit (no cursor: a reader lists once). */
export type ReaderQuery = Omit<ListQuery, "before">;

export interface MailReader {
  get(id: MailId): MailEntry | undefined;
  list(query: ReaderQuery): MailEntry[];
  /** How many mails list() would give without a limit. */
  countMatching(query: Omit<ReaderQuery, "limit">): number;
  /** Mails in any of these states, oldest first. */
  inStates(states: readonly MailState[]): MailEntry[];
  countByState(): Record<MailState, number>;
  readonly size: number;
}
