// POST /api/email/batch through the built executable and a real SMTP upstream: every mail
// of a batch arrives once; and a batch cut short by a crash mid-commit — the segment holds
// only the first mails' lines and a torn one, as a kill during the write leaves it — is
// completed by the client's retry under the same Idempotency-Key, keeping the ids of the
// mails that landed and delivering every mail exactly once.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());

const relays: RelayProcess[] = [];
afterAll(async () => {
  for (const relay of relays) await relay.kill();
});

async function relayIn(dir: string): Promise<RelayProcess> {
  const relay = await startRelay({ cwd: dir });
  relays.push(relay);
  return relay;
}

function setUp(): string {
  const dir = tmpDir();
  writeConfig(dir, deliveryYaml(sink.port));
  return dir;
}

const subjectOf = (raw: Buffer) => /^Subject: (.*)$/m.exec(raw.toString())?.[1]?.trim();
const received = (prefix: string) =>
  sink.messages.map((m) => subjectOf(m.raw)).filter((s): s is string => !!s?.startsWith(prefix));

function batch(prefix: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    title: `${prefix} ${i}`,
    content: `<p>${i}</p>`,
    receiver: `r${i}@example.com`,
    ...(i % 3 === 0
      ? { attachment: [{ filename: `a${i}.bin`, content: Buffer.alloc(100_000, i).toString("base64") }] }
      : {}),
  }));
}

const json = { "content-type": "application/json" };

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "POST", body, headers });
  return { status: response.status, body: (await response.json()) as { data: any } };
}

describe("POST /api/email/batch on the executable", () => {
  it("delivers every mail of a batch once", async () => {
    const relay = await relayIn(setUp());
    const mails = batch("whole", 30);
    const answer = await post(`${relay.url}/api/email/batch`, JSON.stringify(mails), json);
    expect(answer.status).toBe(200);
    expect(answer.body.data.ids).toHaveLength(30);
    await waitFor(() => received("whole ").length >= 30, 20_000, "30 mails at the sink");
    expect(received("whole ").sort()).toEqual(mails.map((m) => m.title).sort());
  });

  it("completes a batch cut short by a crash when the client retries with its Idempotency-Key", async () => {
    const dir = setUp();
    let relay = await relayIn(dir);
    // delivery paused: the spool holds the batch's lines only, as they were written
    expect((await post(`${relay.url}/admin/pause`, "")).status).toBe(200);
    const mails = batch("crashed", 6);
    const key = { ...json, "idempotency-key": "nightly-2026-12-02" };
    const first = await post(`${relay.url}/api/email/batch`, JSON.stringify(mails), key);
    expect(first.status).toBe(200);
    await relay.kill();

    // the crash: the write of the commit reached the disk up to the middle of the 4th line
    const spoolDir = path.join(dir, "data/spool");
    const [segment] = fs.readdirSync(spoolDir).filter((f) => f.endsWith(".jsonl"));
    const file = path.join(spoolDir, segment!);
    const text = fs.readFileSync(file, "utf8");
    const lineEnds = [...text.matchAll(/\n/g)].map((m) => m.index! + 1);
    expect(lineEnds).toHaveLength(6);
    fs.truncateSync(file, Buffer.byteLength(text.slice(0, lineEnds[2]! + 40)));
    for (const f of fs.readdirSync(path.join(dir, "data")).filter((f) => f.startsWith("index.sqlite")))
      fs.rmSync(path.join(dir, "data", f));

    relay = await relayIn(dir);
    const retry = await post(`${relay.url}/api/email/batch`, JSON.stringify(mails), key);
    expect(retry.status).toBe(200);
    const ids = retry.body.data.ids as string[];
    expect(ids.slice(0, 3)).toEqual(first.body.data.ids.slice(0, 3));
    expect(new Set(ids).size).toBe(6);
    expect((await post(`${relay.url}/admin/resume`, "")).status).toBe(200);
    await waitFor(() => received("crashed ").length >= 6, 20_000, "6 mails at the sink");
    const again = await post(`${relay.url}/api/email/batch`, JSON.stringify(mails), key);
    expect(again.body.data.ids).toEqual(ids);
    expect(received("crashed ").sort()).toEqual(mails.map((m) => m.title).sort());
  });
});
