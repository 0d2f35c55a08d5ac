// Finds an archived mail: archive/ is not loaded at start, so the status API scans it for
// the id's lines and folds them like recovery does. Slow by design, and rare.
import fs from "node:fs";
import path from "node:path";
import { MailIndex, type MailEntry } from "./mail-index.js";
import { decodeRecord } from "./record.js";
import { listSegments, segmentName } from "./segment-files.js";

export async function findArchived(archiveDir: string, id: string): Promise<MailEntry | undefined> {
  if (!fs.existsSync(archiveDir)) return undefined;
  const needle = `"id":"${id}"`;
  const index = new MailIndex();
  for (const segment of listSegments(archiveDir)) {
    const text = await fs.promises.readFile(path.join(archiveDir, segmentName(segment)), "utf8");
    if (!text.includes(needle)) continue;
    let offset = 0;
    for (const line of text.split("\n")) {
      const length = Buffer.byteLength(line) + 1;
      if (line.includes(needle)) {
        const decoded = decodeRecord(line);
        if (decoded.ok) index.apply(decoded.record, { segment, offset, length, archived: true });
      }
      offset += length;
    }
  }
  return index.get(id);
}
