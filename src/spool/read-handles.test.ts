// Kept-open segment handles read the bytes at the asked offsets (concurrently, across more
// files than it keeps open, short at a file's end), keep reading a segment renamed or
// removed after it was opened, and open again after close() or a failed open.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { tmpDir } from "../../test/helpers/tmp-dir.js";
import { ReadHandles } from "./read-handles.js";

const dir = tmpDir("mailspool-read-handles-");
const files = Array.from({ length: 5 }, (_, i) => {
  const file = path.join(dir, `00000${i + 1}.jsonl`);
  fs.writeFileSync(file, Array.from({ length: 50 }, (_, line) => `segment ${i} line ${line}\n`).join(""));
  return file;
});
const expected = (file: string, offset: number, length: number) =>
  fs
    .readFileSync(file)
    .subarray(offset, offset + length)
    .toString();

it("reads the asked bytes, concurrently and across more files than it keeps open", async () => {
  const handles = new ReadHandles(60_000, 2);
  const reads: { file: string; offset: number; length: number }[] = [];
  for (let round = 0; round < 4; round++)
    for (const file of files) reads.push({ file, offset: round * 37 + files.indexOf(file), length: 25 });
  const got = await Promise.all(reads.map((r) => handles.read(r.file, r.offset, r.length)));
  got.forEach((buffer, i) => expect(buffer.toString()).toBe(expected(reads[i]!.file, reads[i]!.offset, 25)));
  const size = fs.statSync(files[0]!).size;
  expect((await handles.read(files[0]!, size - 5, 20)).toString()).toBe(expected(files[0]!, size - 5, 5));
  handles.close();
  expect((await handles.read(files[1]!, 0, 10)).toString()).toBe(expected(files[1]!, 0, 10));
  handles.close();
});

it("keeps reading a segment renamed or removed after it was opened; a missing file fails and is not kept", async () => {
  const handles = new ReadHandles(60_000, 8);
  const file = path.join(dir, "000100.jsonl");
  fs.writeFileSync(file, "first record\nsecond record\n");
  expect((await handles.read(file, 0, 5)).toString()).toBe("first");
  fs.renameSync(file, path.join(dir, "moved.jsonl"));
  expect((await handles.read(file, 13, 6)).toString()).toBe("second");
  fs.rmSync(path.join(dir, "moved.jsonl"));
  expect((await handles.read(file, 6, 6)).toString()).toBe("record");
  handles.close();
  await expect(handles.read(file, 0, 5)).rejects.toMatchObject({ code: "ENOENT" });
  fs.writeFileSync(file, "again\n");
  expect((await handles.read(file, 0, 5)).toString()).toBe("again");
  handles.close();
});

it("reads near through windows, and reads again for bytes appended past a window's end", async () => {
  const handles = new ReadHandles(60_000, 8);
  const file = path.join(dir, "000200.jsonl");
  fs.writeFileSync(file, "first record\nsecond record\n");
  const near = await Promise.all([handles.readNear(file, 0, 13), handles.readNear(file, 13, 14)]);
  expect(near.map(String)).toEqual(["first record\n", "second record\n"]);
  fs.appendFileSync(file, "third record\n");
  expect((await handles.readNear(file, 27, 13)).toString()).toBe("third record\n");
  expect((await handles.readNear(file, 6, 6)).toString()).toBe("record");
  const big = "x".repeat(70 * 1024);
  fs.appendFileSync(file, big);
  expect((await handles.readNear(file, 40, big.length)).toString()).toBe(big);
  handles.close();
});
