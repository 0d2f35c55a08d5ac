// readPickupEntry on what a swap between the watcher's lstat and its open could put under
// the name: each is refused on the descriptor (or by O_NOFOLLOW) without blocking or reading.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pickupMaxBytes, readPickupEntry } from "./pickup-entry.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const dir = tmpDir("mailspool-pickup-entry-");
const limit = 1000;

async function refusal(file: string): Promise<string> {
  return readPickupEntry(file, limit).then(
    () => "read",
    (error: Error) => error.message,
  );
}

describe("readPickupEntry", () => {
  it("reads a regular file with one link, up to the limit", async () => {
    fs.writeFileSync(path.join(dir, "ok.json"), "{}");
    expect((await readPickupEntry(path.join(dir, "ok.json"), limit)).toString()).toBe("{}");
    fs.writeFileSync(path.join(dir, "edge.json"), "x".repeat(limit));
    expect((await readPickupEntry(path.join(dir, "edge.json"), limit)).length).toBe(limit);
  });

  it("refuses a FIFO, a symlink (to /dev/zero or a file), a directory, a hard link and an oversize file", async () => {
    expect(spawnSync("mkfifo", [path.join(dir, "fifo.json")]).status).toBe(0);
    fs.symlinkSync("/dev/zero", path.join(dir, "zero.json"));
    fs.writeFileSync(path.join(dir, "target"), "{}");
    fs.symlinkSync(path.join(dir, "target"), path.join(dir, "link.json"));
    fs.mkdirSync(path.join(dir, "dir.json"));
    fs.linkSync(path.join(dir, "target"), path.join(dir, "hard.json"));
    fs.writeFileSync(path.join(dir, "big.json"), "");
    fs.truncateSync(path.join(dir, "big.json"), limit + 1);
    expect(await refusal(path.join(dir, "fifo.json"))).toMatch(/is a FIFO/);
    expect(await refusal(path.join(dir, "zero.json"))).toMatch(/is a symbolic link/);
    expect(await refusal(path.join(dir, "link.json"))).toMatch(/is a symbolic link/);
    expect(await refusal(path.join(dir, "dir.json"))).toMatch(/is a directory/);
    expect(await refusal(path.join(dir, "hard.json"))).toMatch(/has 2 hard links/);
    expect(await refusal(path.join(dir, "big.json"))).toBe(
      `the file is ${limit + 1} bytes, over the pickup limit of ${limit} bytes (4/3 of server.maxBodyBytes plus 1 MiB)`,
    );
  });

  it("allows 4/3 of server.maxBodyBytes plus 1 MiB", () => {
    expect(pickupMaxBytes(26_214_400)).toBe(36_001_112);
    expect(pickupMaxBytes(3)).toBe(4 + 1024 * 1024);
  });
});
