// Reliability 3 — disk full. The spool lives on a 3 MiB tmpfs; the built relay takes
// concurrent JSON sends with 20–40 KiB attachments (spool.inlineMaxBytes 0, so every
// attachment is a blob too) until both the free-space reserve (spool.minFreeBytes) and
// the real ENOSPC / short-write path have answered 507. Then: no false 200 (every 200's
// record is in the spool, its blobs present with the right sha256, also after a
// restart), no torn record (every line decodes with src/spool/record.ts), no leftover
// temp file; `mount -o remount,size=64m` and intake recovers by itself (a send gets 200
// without a restart), and every acknowledged mail reaches the SMTP upstream.
// Skips when tmpfs cannot be mounted (needs root).
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { get, post } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import {
  boundedLoad,
  figure,
  filesIn,
  messageIdOf,
  scanSpool,
  sized,
  sleep,
  type SpoolScan,
} from "../helpers/reliability.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { mountTmpfs, type Tmpfs } from "../helpers/tmpfs.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

let tmpfs: Tmpfs | undefined;
let relay: RelayProcess | undefined;
let sink: SmtpSink | undefined;
afterAll(async () => {
  await relay?.kill().catch(() => undefined);
  await sink?.close();
  tmpfs?.unmount();
});

const reserveBytes = 262_144;

function mailBody(n: number): string {
  const size = 20 * 1024 + Math.floor(Math.random() * 20 * 1024);
  return JSON.stringify({
    title: `disk full ${n}`,
    content: `<p>${n}</p>`,
    receiver: "a@example.com",
    attachment: [
      {
        filename: `part-${n}.bin`,
        content: randomBytes(size).toString("base64"),
        contentType: "application/octet-stream",
      },
    ],
  });
}

/** Acknowledged ids whose accepted record is missing, or whose blobs are missing or differ from their sha256, with why. */
function falseAcknowledgements(scan: SpoolScan, dataDir: string, ids: string[]): string[] {
  const problems: string[] = [];
  for (const id of ids) {
    const record = scan.accepted.get(id);
    if (!record || record.type !== "accepted") {
      problems.push(`${id}: no accepted record`);
      continue;
    }
    for (const a of record.mail.attachments) {
      if (a.inline !== undefined) continue;
      const file = path.join(dataDir, "blobs", a.sha256);
      if (!fs.existsSync(file)) {
        problems.push(`${id}: blob ${a.sha256} missing`);
        continue;
      }
      const bytes = fs.readFileSync(file);
      if (bytes.length !== a.size)
        problems.push(`${id}: blob ${a.sha256} has ${bytes.length} bytes, record says ${a.size}`);
      else if (createHash("sha256").update(bytes).digest("hex") !== a.sha256)
        problems.push(`${id}: blob ${a.sha256} content differs from its sha256`);
    }
  }
  return problems;
}

it(
  "disk full: 507s from the reserve and from ENOSPC, no false 200, no torn record, recovery after the disk grows",
  async (ctx) => {
    const mounted = mountTmpfs("3m");
    if (typeof mounted === "string") {
      console.warn(`disk-full test skipped: cannot mount a tmpfs (${mounted})`);
      ctx.skip();
      return;
    }
    tmpfs = mounted;
    const dir = tmpDir();
    const dataDir = path.join(tmpfs.dir, "data");
    sink = await startSmtpSink();
    writeConfig(
      dir,
      [
        "server:",
        "  maxBodyBytes: 65536",
        "spool:",
        `  dir: ${dataDir}`,
        `  minFreeBytes: ${reserveBytes}`,
        "  inlineMaxBytes: 0",
        deliveryYaml(sink.port, ["  workers: 3", "  retry: { attempts: 50, baseSeconds: 0.1, maxSeconds: 1 }"]),
      ].join("\n"),
    );
    relay = await startRelay({ cwd: dir });
    const url = relay.url;

    // a ballast file holds 1 MiB back for phase B
    const ballast = path.join(tmpfs.dir, "ballast");
    fs.writeFileSync(ballast, Buffer.alloc(1024 * 1024, 1));

    const acknowledged: string[] = [];
    const statuses = new Map<string, number>();
    let reserve507 = 0;
    let enospc = 0;
    const send = async (n: number) => {
      const answer = await post(url, mailBody(n), { "content-type": "application/json" }).catch((error: Error) => ({
        status: 0,
        body: { code: 0, message: `connection: ${error.message}`, data: null },
      }));
      const key = `${answer.status} ${answer.body.message}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (answer.status === 200) acknowledged.push(answer.body.data.id as string);
      else if (answer.status === 507 && /reserve/.test(answer.body.message)) reserve507 += 1;
      else if (answer.status >= 500) enospc += 1; // the disk really ran out (the spec wants 507 here; other codes fail below)
      return answer.status;
    };

    // phase A: fill the disk with concurrent sends until the reserve answers 507 (bounded)
    let n = 0;
    const phaseA = await boundedLoad(
      { workers: 8, count: sized(1_500, 3_000), timeMs: sized(60_000, 120_000), stop: () => reserve507 > 0 },
      () => send((n += 1)).then(() => undefined),
    );

    // phase B: the real ENOSPC path. Free the ballast, let one send refresh the relay's
    // cached free-space figure (it re-reads statfs at most every 250 ms), then another
    // process takes all but ~40 KiB and a burst of concurrent sends arrives within that
    // 250 ms: they pass the reserve check and meet the full disk in write/fsync.
    fs.rmSync(ballast);
    let rounds = 0;
    for (; rounds < sized(20, 40) && (rounds < sized(3, 10) || enospc < 3); rounds += 1) {
      await sleep(300);
      for (let i = 0; i < 20 && (await send((n += 1))) !== 200; i += 1) await sleep(100);
      const stats = fs.statfsSync(tmpfs.dir);
      const fill = stats.bavail * stats.bsize - 40 * 1024;
      if (fill > 0) {
        try {
          fs.writeFileSync(path.join(tmpfs.dir, `filler-${rounds}`), Buffer.alloc(fill, 2));
        } catch {
          // the disk is full either way
        }
      }
      await Promise.all(Array.from({ length: 12 }, () => send((n += 1))));
      for (const f of filesIn(tmpfs.dir).filter((name) => name.startsWith("filler-")))
        fs.rmSync(path.join(tmpfs.dir, f));
    }
    // leave the disk full for the checks below
    const stats = fs.statfsSync(tmpfs.dir);
    try {
      fs.writeFileSync(
        path.join(tmpfs.dir, "filler-final"),
        Buffer.alloc(Math.max(0, stats.bavail * stats.bsize - 20 * 1024), 2),
      );
    } catch {
      // full
    }
    await sleep(300);
    const health = await get(url, "/health");
    const scanFull = scanSpool(dataDir);
    const falseWhileFull = falseAcknowledgements(scanFull, dataDir, acknowledged);
    const tempsWhileFull = filesIn(path.join(dataDir, "blobs")).filter((f) => f.startsWith(".tmp-"));

    // the disk grows: intake recovers by itself, no restart
    tmpfs.resize("64m");
    const grownAt = Date.now();
    let recoveredId: string | undefined;
    for (let i = 0; i < 100 && !recoveredId; i += 1) {
      const answer = await post(url, mailBody(100_000 + i), { "content-type": "application/json" }).catch(() => ({
        status: 0,
        body: { data: null },
      }));
      if (answer.status === 200) recoveredId = answer.body.data.id as string;
      else await sleep(100);
    }
    const recoveryMs = Date.now() - grownAt;
    if (recoveredId) acknowledged.push(recoveredId);

    // every acknowledged mail reaches the upstream
    const wanted = new Set(acknowledged);
    let undelivered: string[] = [...wanted];
    await waitFor(
      () => {
        const arrived = new Set(sink!.messages.map((m) => messageIdOf(m.raw)));
        undelivered = [...wanted].filter((id) => !arrived.has(id));
        return undelivered.length === 0;
      },
      60_000,
      "every acknowledged mail at the upstream",
    ).catch(() => undefined);

    // restart: the spool still holds every acknowledged mail, every line decodes, and each
    // ends `sent` (a mail whose outcome record met the full disk is delivered again)
    const stopCode = await relay.stop();
    relay = await startRelay({ cwd: dir });
    const afterRestart = scanSpool(dataDir);
    const falseAfterRestart = falseAcknowledgements(afterRestart, dataDir, acknowledged);
    const relayUrl = relay.url;
    const states = new Map<string, string>();
    await waitFor(
      async () => {
        for (const id of acknowledged) {
          if (states.get(id) === "sent") continue;
          states.set(id, (await get(relayUrl, `/api/email/${id}`)).body.data?.state ?? "missing");
        }
        return [...states.values()].every((state) => state === "sent");
      },
      30_000,
      "every acknowledged mail sent",
    ).catch(() => undefined);
    await relay.stop();
    relay = undefined;
    const notSent = [...states.entries()].filter(([, state]) => state !== "sent");
    const perId = new Map<string, number>();
    for (const m of sink.messages) perId.set(messageIdOf(m.raw)!, (perId.get(messageIdOf(m.raw)!) ?? 0) + 1);
    const duplicates = [...perId.values()].reduce((sum, k) => sum + k - 1, 0);

    const sends = [...statuses.values()].reduce((a, b) => a + b, 0);
    const other = [...statuses.entries()].filter(([k]) => !/^(200|507) /.test(k));
    const refused = [...statuses.entries()].filter(([k]) => !k.startsWith("200 ")).map(([k, v]) => `${v} × ${k}`);
    figure(
      `disk full: ${sends} sends (phase A ${phaseA.started} in ${Math.round(phaseA.elapsedMs / 100) / 10} s, phase B ${rounds} bursts), ${acknowledged.length - (recoveredId ? 1 : 0)} acknowledged, ` +
        `${reserve507 + enospc} refused (${reserve507} by the reserve, ${enospc} by ENOSPC/short write: ${refused.join(", ")}), ` +
        `${new Set([...falseWhileFull, ...falseAfterRestart].map((p) => p.split(":")[0])).size} false 200s, ${scanFull.torn.length + afterRestart.torn.length + afterRestart.tails.length} torn records, ` +
        `${tempsWhileFull.length} temp files left, /health ${health.status} when full; remount 64m → 200 again after ${recoveryMs} ms without restart; ` +
        `${wanted.size - undelivered.length}/${wanted.size} delivered before the restart, ${acknowledged.length - notSent.length}/${acknowledged.length} sent after it, ` +
        `${duplicates} duplicates (an outcome record that meets the full disk is retried, not the send)`,
    );
    expect.soft(other, `statuses other than 200/507: ${JSON.stringify(Object.fromEntries(statuses))}`).toEqual([]);
    expect.soft(reserve507, "the free-space reserve answered 507").toBeGreaterThan(0);
    expect.soft(enospc, "a real ENOSPC / short write was met").toBeGreaterThan(0);
    expect.soft(health.status, "/health with the disk below the reserve").toBe(503);
    expect.soft(acknowledged.length).toBeGreaterThan(10);
    expect.soft(falseWhileFull).toEqual([]);
    expect.soft(scanFull.torn).toEqual([]);
    expect.soft(tempsWhileFull, "temp blob files left behind by refused sends").toEqual([]);
    expect.soft(recoveredId, "a send gets 200 after the disk grew, without a restart").toBeDefined();
    expect.soft(undelivered).toEqual([]);
    expect.soft(stopCode).toBe(0);
    expect.soft(falseAfterRestart).toEqual([]);
    expect.soft(afterRestart.torn).toEqual([]);
    expect.soft(afterRestart.tails).toEqual([]);
    expect.soft(notSent, "acknowledged mails not sent after the restart").toEqual([]);
  },
  sized(180_000, 300_000),
);
