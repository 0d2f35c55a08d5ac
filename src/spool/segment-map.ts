// Which live segments hold records of which mails, and each segment's newest record:
// what the compactor needs to know whether a segment can move to archive/.
import type { MailId } from "../types.js";

export class SegmentMap {
  private readonly mailsBySegment = new Map<number, Set<MailId>>();
  private readonly segmentsByMail = new Map<MailId, Set<number>>();
  private readonly newest = new Map<number, string>();

  add(segment: number, id: MailId, ts: string): void {
    let mails = this.mailsBySegment.get(segment);
    if (!mails) this.mailsBySegment.set(segment, (mails = new Set()));
    mails.add(id);
    let segments = this.segmentsByMail.get(id);
    if (!segments) this.segmentsByMail.set(id, (segments = new Set()));
    segments.add(segment);
    if ((this.newest.get(segment) ?? "") < ts) this.newest.set(segment, ts);
  }

  segments(): number[] {
    return [...this.mailsBySegment.keys()].sort((a, b) => a - b);
  }

  mails(segment: number): MailId[] {
    return [...(this.mailsBySegment.get(segment) ?? [])];
  }

  /** The live segments holding records of this mail. */
  segmentsOf(id: MailId): number[] {
    return [...(this.segmentsByMail.get(id) ?? [])];
  }

  newestRecord(segment: number): string {
    return this.newest.get(segment) ?? "";
  }

  /** Forgets an archived segment; returns the mails that have no live segment left. */
  remove(segment: number): MailId[] {
    const gone: MailId[] = [];
    for (const id of this.mailsBySegment.get(segment) ?? []) {
      const segments = this.segmentsByMail.get(id);
      segments?.delete(segment);
      if (!segments || segments.size === 0) {
        this.segmentsByMail.delete(id);
        gone.push(id);
      }
    }
    this.mailsBySegment.delete(segment);
    this.newest.delete(segment);
    return gone;
  }
}
