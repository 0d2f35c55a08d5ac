// What `mailspool replay --failed` did before batch files, for bench/pickup-replay.mjs: read
// the spool, then one pickup file {"replay": "<id>"} per partial/failed mail, each written as
// pickup-file.ts writes one (dot-temp file, fsync, rename, directory fsync).
//
//   node_modules/.bin/bun bench/pickup-replay-old-cli.ts <dir>
import { createLogger } from "../src/log.js";
import { writePickupFile } from "../src/pickup/pickup-file.js";
import { Spool } from "../src/spool/spool.js";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bun bench/pickup-replay-old-cli.ts <dir>");
  process.exit(2);
}
const spool = Spool.read({ dataDir: `${dir}/data`, log: createLogger("warn") });
const chosen = spool.index.inStates(["partial", "failed"]);
for (const entry of chosen) writePickupFile(spool.paths.pickup, `replay-${entry.id}`, { replay: entry.id });
console.log(JSON.stringify({ files: chosen.length }));
