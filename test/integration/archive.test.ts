// Archiving and retention: finished segments leave the live spool (status and spool ls
// still find their mails), unreferenced blobs go, a failed mail's blob stays, and
// retentionDays prunes archive/ and outbox/. Time moves through compactSpool's clock.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { compactSpool } from "../../src/spool/compact.js";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";

const day = 86_400_000;
const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function sendWithFile(relay: InProcessRelay, receiver: string, bytes: Buffer) {
  const body = JSON.stringify({
    title: `to ${receiver}`,
    content: "<p>x</p>",
    receiver,
    attachment: [{ filename: "f.bin", content: bytes.toString("base64") }],
  });
  const answer = await post(relay.url, body, { "content-type": "application/json" });
  expect(answer.status).toBe(200);
  return answer.body.data.id as string;
}

it("archives finished segments, keeps lookups working, collects blobs and applies retention", async () => {
  const sink = await startSmtpSink({
    onRcpt: (a) => (a === "bad@example.com" ? { code: 550, message: "no such user" } : undefined),
  });
  sinks.push(sink);
  const yaml = [
    "spool:",
    "  segmentMaxBytes: 4096",
    "  inlineMaxBytes: 0",
    "  retentionDays: 30",
    deliveryYaml(sink.port),
  ].join("\n");
  const relay = await startInProcess(yaml);
  relays.push(relay);
  const sentBlob = Buffer.alloc(3000, 1);
  const failedBlob = Buffer.alloc(3000, 2);
  const sent = await sendWithFile(relay, "ok@example.com", sentBlob);
  await relay.waitForState(sent, ["sent"]);
  const fillers = [];
  for (let i = 0; i < 16; i += 1)
    fillers.push(await sendWithFile(relay, `f${i}@example.com`, Buffer.alloc(2000, 10 + i)));
  for (const id of fillers) await relay.waitForState(id, ["sent"]);
  // the failed mail lands in a later segment, which stays live while the mail is in the failed spool
  const failed = await sendWithFile(relay, "bad@example.com", failedBlob);
  await relay.waitForState(failed, ["failed"]);
  const blob = (data: Buffer) => path.join(relay.dir, "data/blobs", createHash("sha256").update(data).digest("hex"));
  expect(fs.existsSync(blob(sentBlob))).toBe(true);
  const liveBefore = fs.readdirSync(path.join(relay.dir, "data/spool")).length;
  expect(liveBefore).toBeGreaterThan(2);

  const totalsBefore = await (await fetch(`${relay.url}/metrics?format=json`)).json();
  expect(totalsBefore).toMatchObject({ total_emails: 18, successful_emails: 17, failed_emails: 1 });
  const log = createLogger("silent");
  const tooSoon = await compactSpool(relay.spool, { retentionDays: 30, log });
  expect(tooSoon.archivedSegments).toBe(0);

  const result = await compactSpool(relay.spool, { retentionDays: 30, log, now: () => Date.now() + 2 * day });
  expect(result.archivedSegments).toBeGreaterThan(0);
  expect(fs.readdirSync(path.join(relay.dir, "data/archive")).filter((f) => f.endsWith(".jsonl")).length).toBe(
    result.archivedSegments,
  );
  // archive/totals.json counts the events of the archived segments' records: their accepted records
  const archivedAccepted = fs
    .readdirSync(path.join(relay.dir, "data/archive"))
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => fs.readFileSync(path.join(relay.dir, "data/archive", f), "utf8").split("\n"))
    .filter((line) => line.includes('"type":"accepted"')).length;
  expect(archivedAccepted).toBeGreaterThanOrEqual(result.archivedMails);
  expect(JSON.parse(fs.readFileSync(path.join(relay.dir, "data/archive/totals.json"), "utf8")).emails).toBe(
    archivedAccepted,
  );
  expect(await (await fetch(`${relay.url}/metrics?format=json`)).json()).toEqual(totalsBefore);
  expect(fs.readdirSync(path.join(relay.dir, "data/spool")).length).toBeLessThan(liveBefore);
  expect(relay.spool.index.get(sent)?.location.archived).toBe(true);
  expect(relay.spool.index.get(failed)?.state).toBe("failed");
  expect(fs.existsSync(blob(sentBlob))).toBe(false);
  expect(fs.existsSync(blob(failedBlob))).toBe(true);
  const archived = fs
    .readdirSync(path.join(relay.dir, "data/archive"))
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => fs.readFileSync(path.join(relay.dir, "data/archive", f), "utf8"))
    .join("");
  expect(archived).toContain(`"id":"${sent}"`);
  expect(archived).toContain('"archived":true');
  expect(archived).not.toContain(sentBlob.toString("base64").slice(0, 40));

  const status = await get(relay.url, `/api/email/${sent}`);
  expect(status.status).toBe(200);
  expect(status.body.data).toMatchObject({ id: sent, state: "sent" });
  const ls = runCli(["spool", "ls", "--json", "-c", "app.yaml"], relay.dir);
  expect(ls.stdout).toContain(`"id":"${sent}"`);
  expect(runCli(["spool", "show", sent, "-c", "app.yaml"], relay.dir).code).toBe(0);

  await relay.stop();
  relays.pop();
  const restarted = await startInProcess(yaml, {}, relay.dir);
  relays.push(restarted);
  expect(restarted.spool.index.get(sent)?.location.archived).toBe(true);
  expect((await get(restarted.url, `/api/email/${sent}`)).body.data.state).toBe("sent");
  expect(await (await fetch(`${restarted.url}/metrics?format=json`)).json()).toEqual(totalsBefore);
  const next = await sendWithFile(restarted, "after@example.com", Buffer.alloc(10, 3));
  await restarted.waitForState(next, ["sent"]);

  const later = await compactSpool(restarted.spool, { retentionDays: 30, log, now: () => Date.now() + 40 * day });
  expect(later.removedFiles).toBeGreaterThan(0);
  expect(restarted.spool.index.get(failed)).toBeUndefined();
  // the failed mail and every archive segment are gone; their counts stay in archive/totals.json
  expect(await (await fetch(`${restarted.url}/metrics?format=json`)).json()).toMatchObject({
    total_emails: 19,
    successful_emails: 18,
    failed_emails: 1,
    total_recipients: 19,
  });
  expect(fs.existsSync(blob(failedBlob))).toBe(false);
  expect(fs.readdirSync(path.join(restarted.dir, "data/outbox"))).toEqual([]);
});
