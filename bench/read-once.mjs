// The index bench's baseline (bench/index.mjs): read every segment of a spool directory
// once and count its lines — the least any start-up that reads the spool must do.
// Prints {lines, bytes, ms}.
import fs from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const began = performance.now();
let lines = 0;
let bytes = 0;
for (const name of fs.readdirSync(dir).sort()) {
  if (!name.endsWith(".jsonl")) continue;
  const data = fs.readFileSync(path.join(dir, name));
  bytes += data.length;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) lines += 1;
}
console.log(JSON.stringify({ lines, bytes, ms: performance.now() - began }));
