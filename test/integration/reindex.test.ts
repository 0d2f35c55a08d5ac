// mailspool reindex and the index file on the built executable: refused while a server
// holds the directory; afterwards the rebuilt index answers exactly as the one it replaced,
// and a restart with the index in place reads no record again.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { sendAndWaitForEml, startRelay } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

it("reindex is refused while serving, rebuilds the same answers and counts, and a restart folds nothing twice", async () => {
  const dir = tmpDir();
  const relay = await startRelay({ cwd: dir });
  const ids: string[] = [];
  let statuses: unknown[] = [];
  try {
    for (let n = 0; n < 5; n += 1) ids.push(await sendAndWaitForEml(relay.url, dir, { title: `mail ${n}` }));
    await waitFor(
      async () => (await get(relay.url, `/api/email/${ids[4]}`)).body.data.state === "sent",
      10_000,
      "the last mail sent",
    );
    statuses = await Promise.all(ids.map(async (id) => (await get(relay.url, `/api/email/${id}`)).body.data));
    const refused = runCli(["reindex"], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/reindex refused: a mailspool server \(pid \d+\) holds/);
  } finally {
    expect(await relay.stop()).toBe(0);
  }
  expect(fs.existsSync(path.join(dir, "data/index.sqlite"))).toBe(true);

  const rebuilt = runCli(["reindex"], dir);
  expect(rebuilt.code, rebuilt.stderr).toBe(0);
  expect(rebuilt.stdout).toMatch(/^reindexed 5 mail\(s\) from \d+ record\(s\) in [\d.]+ s\n$/);
  expect(runCli(["fsck"], dir).code).toBe(0);
  // the daily and quota counts are rebuilt with it: stat answers from the index, not every segment
  const stat = runCli(["spool", "stat"], dir);
  expect(stat.code, stat.stderr).toBe(0);
  expect(stat.stderr).not.toMatch(/spool index/);

  const again = await startRelay({ cwd: dir });
  try {
    expect(again.output()).toMatch(/"records":0,[^\n]*"folded":"past the index's position"/);
    const after = await Promise.all(ids.map(async (id) => (await get(again.url, `/api/email/${id}`)).body.data));
    expect(after).toEqual(statuses);
    const page = await get(again.url, "/api/email?limit=3");
    expect(page.body.data.items.map((m: { id: string }) => m.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(page.body.data.next).toBe(ids[2]);
  } finally {
    expect(await again.stop()).toBe(0);
  }
});
