// Which live segments hold records of which mails, and each segment's newest record:
// what the compactor needs to know whether a segment can move to archive/.
import type { MailId } from "../types.js";

export class SegmentMap {
  private readonly mailsOf = new Map<number, Set<MailId>>();
  private readonly segmentsOf = new Map<MailId, Set<number>>();
  private readonly newest = new Map<number, string>();

  add(segment: number, id: MailId, ts: string): void {
    let mails = this.mailsOf.get(segment);
    if (!mails) this.mailsOf.set(segment, (mails = new Set()));
    mails.add(id);
    let segments = this.segmentsOf.get(id);
    if (!segments) this.segmentsOf.set(id, (segments = new Set()));
    segments.add(segment);
    if ((this.newest.get(segment) ?? "") < ts) this.newest.set(segment, ts);
  }

  segments(): number[] {
    return [...this.mailsOf.keys()].sort((a, b) => a - b);
  }

  mails(segment: number): MailId[] {
    return [...(this.mailsOf.get(segment) ?? [])];
  }

  newestRecord(segment: number): string {
    return this.newest.get(segment) ?? "";
  }

  /** Forgets an archived segment; returns the mails that have no live segment left. */
  remove(segment: number): MailId[] {
    const gone: MailId[] = [];
    for (const id of this.mailsOf.get(segment) ?? []) {
      const segments = this.segmentsOf.get(id);
      segments?.delete(segment);
      if (!segments || segments.size === 0) {
        this.segmentsOf.delete(id);
        gone.push(id);
      }
    }
    this.mailsOf.delete(segment);
    this.newest.delete(segment);
    return gone;
  }
}
