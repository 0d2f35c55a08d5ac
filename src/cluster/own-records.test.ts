// readLines over real segment files: whole lines however long, across segment ends.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeRecordBytes, type SpoolRecord } from "../spool/record.js";
import { segmentName } from "../spool/segment-files.js";
import { spoolPaths } from "../spool/spool.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";
import { readLines } from "./own-records.js";
import { positionOf } from "./positions.js";

const cancel = (id: string, reason: string): SpoolRecord => ({
  v: 1,
  type: "cancel",
  id,
  ts: "2026-12-01T00:00:00.000Z",
  reason,
});

describe("readLines", () => {
  it("reads every line up to the end, a line longer than the read chunk whole, and moves on to the next segment", () => {
    const paths = spoolPaths(tmpDir());
    fs.mkdirSync(paths.spool, { recursive: true });
    const first = [cancel("a", "x"), cancel("b", "y".repeat(6 * 1024 * 1024)), cancel("c", "z")];
    const second = [cancel("d", "w")];
    fs.writeFileSync(path.join(paths.spool, segmentName(1)), Buffer.concat(first.map(encodeRecordBytes)));
    fs.writeFileSync(path.join(paths.spool, segmentName(3)), Buffer.concat(second.map(encodeRecordBytes)));
    const end = positionOf(3, fs.statSync(path.join(paths.spool, segmentName(3))).size);
    const seen: string[] = [];
    let at = positionOf(1, 0);
    for (let calls = 0; at < end && calls < 10; calls += 1) {
      const { lines, reached } = readLines(paths, at, end);
      seen.push(...lines.map((l) => l.record.id));
      expect(reached).toBeGreaterThan(at);
      at = reached;
    }
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(at).toBe(end);
  });
});
