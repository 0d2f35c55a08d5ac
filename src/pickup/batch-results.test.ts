import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pruneBatchResults, resultFile, resultsDir, writeBatchResult } from "./batch-results.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const root = tmpDir("mailspool-results-");

describe("batch results", () => {
  it("are written whole under pickup/done/<name>, never as a *.json in pickup/ itself", async () => {
    const pickup = path.join(root, "write");
    fs.mkdirSync(pickup);
    const result = { file: "replay-x.json", finishedAt: "t", results: [] };
    await writeBatchResult(pickup, result);
    expect(JSON.parse(fs.readFileSync(resultFile(pickup, "replay-x.json"), "utf8"))).toEqual(result);
    expect(fs.readdirSync(pickup)).toEqual(["done"]);
    expect(fs.readdirSync(resultsDir(pickup))).toEqual(["replay-x.json"]);
  });

  it("are pruned when older than a day or beyond the newest 1,000, temp files too", async () => {
    const pickup = path.join(root, "prune");
    const dir = resultsDir(pickup);
    fs.mkdirSync(dir, { recursive: true });
    const now = Date.now();
    const at = (name: string, ageMs: number) => {
      fs.writeFileSync(path.join(dir, name), "{}");
      fs.utimesSync(path.join(dir, name), new Date(now - ageMs), new Date(now - ageMs));
    };
    at("old.json", 25 * 3600_000);
    at(".stale.json.tmp", 25 * 3600_000);
    for (let i = 0; i < 1_002; i += 1) at(`r${String(i).padStart(4, "0")}.json`, i * 1000);
    expect(await pruneBatchResults(pickup, now)).toBe(4);
    const left = fs.readdirSync(dir);
    expect(left).toHaveLength(1_000);
    expect(left).not.toContain("old.json");
    expect(left).not.toContain("r1001.json");
    expect(left).toContain("r0000.json");
    expect(await pruneBatchResults(path.join(root, "none"), now)).toBe(0);
  });
});
