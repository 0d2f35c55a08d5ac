// The floor for ingesting N replays (bench/pickup-replay.mjs): the same replay records the
// server writes for a batch file, appended to the same spool through the same segment writer
// with its group commit — all awaited together, no pickup files, no CLI, no watcher.
//
//   node_modules/.bin/bun bench/pickup-append.ts <dir>
//
// <dir>/data holds a failed spool (make-spool.ts --failed); prints {records, ms, batches}.
import { createLogger } from "../src/log.js";
import { Spool } from "../src/spool/spool.js";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bun bench/pickup-append.ts <dir>");
  process.exit(2);
}
const spool = Spool.open({ dataDir: `${dir}/data`, log: createLogger("warn"), minFreeBytes: -1 });
const entries = spool.index.inStates(["failed"]);
const started = performance.now();
await Promise.all(
  entries.map((entry, at) =>
    spool.append({
      type: "replay",
      id: entry.id,
      recipients: entry.recipients.map((r) => r.address),
      reason: "pickup bench.json",
      idempotencyKey: `pickup:bench.json#${at}`,
      requestHash: "0".repeat(64),
    }),
  ),
);
const ms = performance.now() - started;
const { batches } = spool.commitStats;
await spool.close();
console.log(JSON.stringify({ records: entries.length, ms: Math.round(ms), batches }));
