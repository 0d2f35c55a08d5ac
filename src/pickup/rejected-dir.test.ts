// moveToRejected on a real directory with names at and around the 255-byte limit, in ASCII
// and multi-byte UTF-8: every entry can be rejected (twice under one name too), its entry
// and reason file names fit, and the reason file names the original.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maxNameBytes, moveToRejected, rejectedName } from "./rejected-dir.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const root = tmpDir("mailspool-rejected-");
let dirs = 0;
const bytes = (name: string) => Buffer.byteLength(name);

/** A name of exactly `size` bytes ending in .json, made of `character` repeated (size permitting). */
function nameOf(size: number, character: string): string {
  let name = "";
  while (bytes(name) + bytes(character) + 5 <= size) name += character;
  return name + "x".repeat(size - 5 - bytes(name)) + ".json";
}

/** Rejects pickup/<name> twice (the second file dropped under the same name), checking each move. */
async function rejectTwice(name: string): Promise<string[]> {
  const pickup = path.join(root, `p${(dirs += 1)}`);
  fs.mkdirSync(pickup);
  const targets: string[] = [];
  for (const round of [1, 2]) {
    fs.writeFileSync(path.join(pickup, name), `content ${round}`);
    const target = await moveToRejected(pickup, name, "why\n");
    targets.push(target);
    expect(fs.existsSync(path.join(pickup, name))).toBe(false);
    expect(bytes(`${target}.reason.txt`)).toBeLessThanOrEqual(maxNameBytes);
    expect(fs.readFileSync(path.join(pickup, "rejected", target), "utf8")).toBe(`content ${round}`);
    const reason = fs.readFileSync(path.join(pickup, "rejected", `${target}.reason.txt`), "utf8");
    expect(reason).toBe(`why\nfile: ${JSON.stringify(name)}\n`);
  }
  expect(targets[1]).not.toBe(targets[0]);
  return targets;
}

describe("moveToRejected", () => {
  it("keeps a name that leaves room for .reason.txt and shortens a longer one, up to 255 bytes", async () => {
    for (const character of ["a", "é", "中", "😀"])
      for (const size of [200, 243, 244, 245, 246, 250, 254, 255]) {
        const name = nameOf(size, character);
        const [first, second] = await rejectTwice(name);
        if (bytes(name) <= maxNameBytes - ".reason.txt".length) expect(first).toBe(name);
        else {
          expect(first).toMatch(/~[0-9a-f]{16}\.json$/);
          // a recognisable prefix: all of the name the hash and .reason.txt leave room for
          expect(name.startsWith(first!.replace(/~[0-9a-f]{16}\.json$/, ""))).toBe(true);
          expect(bytes(first!)).toBeGreaterThan(maxNameBytes - ".reason.txt".length - 4);
        }
        expect(second).toMatch(/\.json\.\d{13}$/);
      }
  });

  it("rejects the review's example: 245 characters plus .json", async () => {
    const name = `${"n".repeat(245)}.json`;
    const [first] = await rejectTwice(name);
    expect(first).toBe(`${"n".repeat(244 - 22)}~${rejectedName(name).slice(-21, -5)}.json`);
  });

  it("fits any name of up to 255 bytes, two long names with the same start kept apart", async () => {
    const character = fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "/" && c !== "\0");
    /** A name of at most `max` bytes (of at least `min` when the characters drawn allow it), ending in .json. */
    const generatedName = (min: number, max: number) =>
      fc
        .tuple(fc.array(character, { minLength: max, maxLength: max }), fc.integer({ min, max }))
        .map(([characters, size]) => {
          let base = "";
          for (const c of characters) if (bytes(base + c) + 5 <= size) base += c;
          return `${base}.json`;
        });
    const name = generatedName(6, maxNameBytes);
    await fc.assert(
      fc.asyncProperty(name, async (name) => {
        await rejectTwice(name);
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(generatedName(241, maxNameBytes), fc.string({ minLength: 1, maxLength: 3 }), (name, other) => {
        const twin = `${name.slice(0, -5)}${other}.json`;
        const [a, b] = [rejectedName(name), rejectedName(twin)];
        if (twin !== name) expect(a).not.toBe(b);
      }),
    );
  });

  it("shows a reason file whole or not at all to a reader polling rejected/, and leaves no temporary file", async () => {
    const pickup = path.join(root, `p${(dirs += 1)}`);
    const rejected = path.join(pickup, "rejected");
    fs.mkdirSync(rejected, { recursive: true });
    const reason = "why\n";
    // another process reads every reason file as soon as it is listed, the way an operator's script would
    const reader = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"), path = require("path"), dir = process.argv[1], whole = new Set(); let torn = 0;
        const read = () => { for (const n of fs.readdirSync(dir)) if (n.endsWith(".reason.txt") && !whole.has(n)) {
          let t; try { t = fs.readFileSync(path.join(dir, n), "utf8"); } catch { continue; }
          if (t.endsWith("\\n")) whole.add(n); else torn += 1; } };
        const loop = () => { read(); if (fs.existsSync(path.join(dir, "..", "stop"))) { read();
          console.log(JSON.stringify({ torn, seen: whole.size })); } else setImmediate(loop); };
        loop();`,
        rejected,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    reader.stdout.on("data", (chunk) => (output += chunk));
    const exited = new Promise((resolve) => reader.on("exit", resolve));
    for (let i = 0; i < 1000; i += 1) {
      fs.writeFileSync(path.join(pickup, `m${i}.json`), "{");
      await moveToRejected(pickup, `m${i}.json`, reason);
    }
    fs.writeFileSync(path.join(pickup, "stop"), "");
    await exited;
    const { torn, seen } = JSON.parse(output) as { torn: number; seen: number };
    expect(seen).toBe(1000);
    expect(torn).toBe(0);
    expect(fs.readdirSync(rejected).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(fs.readdirSync(rejected)).toHaveLength(2000);
  });
});
