// An uploaded attachment on its way into the spool: small ones stay in memory and are
// stored inline in the record, larger ones spill to an uncommitted blob temp file.
import { createHash } from "node:crypto";
import type { BlobStore, BlobWriter } from "../spool/blobs.js";
import type { AttachmentRef } from "../types.js";

export interface IncomingFile {
  field: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  data?: Buffer;
  blob?: BlobWriter;
}

export class FileCollector {
  private chunks: Buffer[] = [];
  private size = 0;
  private blob: BlobWriter | undefined;

  constructor(
    private readonly store: BlobStore,
    private readonly inlineMaxBytes: number,
  ) {}

  /** A promise only when the bytes go to a blob (await it before the next write); none while they stay in memory. */
  write(chunk: Buffer): Promise<void> | undefined {
    this.size += chunk.length;
    if (this.blob) return this.blob.write(chunk);
    this.chunks.push(chunk);
    if (this.size <= this.inlineMaxBytes) return undefined;
    return this.spill();
  }

  private async spill(): Promise<void> {
    this.blob = await this.store.create();
    for (const buffered of this.chunks) await this.blob.write(buffered);
    this.chunks = [];
  }

  finish(meta: { field: string; filename: string; contentType: string }): IncomingFile {
    if (this.blob) return { ...meta, ...this.blob.end(), blob: this.blob };
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    return { ...meta, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), data };
  }

  discard(): Promise<void> {
    return this.blob?.discard() ?? Promise.resolve();
  }
}

export function fileFromBytes(
  meta: { field: string; filename: string; contentType: string },
  data: Buffer,
): IncomingFile {
  return { ...meta, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), data };
}

/** Makes every spilled blob durable (fsync, rename, one directory fsync) and returns the refs. */
export async function storeFiles(files: IncomingFile[], store: BlobStore): Promise<AttachmentRef[]> {
  const refs: AttachmentRef[] = [];
  let spilled = false;
  for (const file of files) {
    const ref: AttachmentRef = {
      filename: file.filename,
      contentType: file.contentType,
      size: file.size,
      sha256: file.sha256,
    };
    if (file.blob) {
      await file.blob.commit();
      spilled = true;
    } else {
      ref.inline = (file.data ?? Buffer.alloc(0)).toString("base64");
    }
    refs.push(ref);
  }
  if (spilled) await store.syncDir();
  return refs;
}

export async function discardFiles(files: IncomingFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.blob?.discard()));
}
