// Spool.open on a real data directory: the temp files of whole-file writes a crash left in
// outbox/ and failed/ are removed at start (under the lock, when none can be in flight); the
// files they were to become, and anything else, stay.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { tmpDir } from "../../test/helpers/tmp-dir.js";
import { createLogger } from "../log.js";
import { Spool } from "./spool.js";

it("removes the temp files of writes unfinished at the last stop from outbox/ and failed/", async () => {
  const dataDir = tmpDir("mailspool-unfinished-");
  for (const dir of ["outbox", "failed"]) fs.mkdirSync(path.join(dataDir, dir));
  const files = ["outbox/01M8VBK0R9J1G1X7FZ5PXYSACF.eml.tmp", "outbox/sent.eml", "failed/failed.jsonl.tmp"];
  for (const file of files) fs.writeFileSync(path.join(dataDir, file), "x");
  const spool = Spool.open({ dataDir, log: createLogger("silent"), minFreeBytes: -1 });
  await spool.close();
  expect(fs.readdirSync(path.join(dataDir, "outbox"))).toEqual(["sent.eml"]);
  expect(fs.readdirSync(path.join(dataDir, "failed"))).toEqual([]);
});
