// Composed MIME per mail, kept between attempts so a message is built once per mail, not
// per envelope or attempt. Bounded by bytes (least recently used out); a mail evicted or
// lost to a restart is simply composed again.

export class MessageCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(id: string): Buffer | undefined {
    const raw = this.entries.get(id);
    if (raw) {
      this.entries.delete(id);
      this.entries.set(id, raw);
    }
    return raw;
  }

  set(id: string, raw: Buffer): void {
    this.delete(id);
    if (raw.length > this.maxBytes) return;
    this.entries.set(id, raw);
    this.bytes += raw.length;
    for (const [oldest, buffer] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= buffer.length;
    }
  }

  delete(id: string): void {
    const raw = this.entries.get(id);
    if (!raw) return;
    this.entries.delete(id);
    this.bytes -= raw.length;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
