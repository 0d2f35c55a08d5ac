// Event webhooks through the built binary: one signed POST per listed outcome (sent, partial,
// failed, deferred, cancelled) that verifies with the `standardwebhooks` library and with
// the spec's algorithm written out here; a receiver that refuses until the relay is killed
// -9 and restarted still gets every event, by the same ids; a receiver down for longer
// than maxAgeHours gets the event given up, recorded in the spool.
import { Database } from "bun:sqlite";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { post } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

interface Delivery {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver: `answer` decides each reply (read per request, so a test can switch it). */
async function startReceiver(answer: (request: Delivery) => number, delay = { ms: 0 }) {
  const received: (Delivery & { status: number; at: number })[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const delivery = { path: req.url ?? "", headers: req.headers, body };
      const status = answer(delivery);
      received.push({ ...delivery, status, at: Date.now() });
      setTimeout(() => res.writeHead(status).end(), delay.ms);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/** The Standard Webhooks check written out from the spec, independent of the relay's code. */
function verifiedBySpec(secret: string, delivery: Delivery, nowSeconds: number): boolean {
  const id = delivery.headers["webhook-id"] as string;
  const timestamp = delivery.headers["webhook-timestamp"] as string;
  if (Math.abs(nowSeconds - Number(timestamp)) > 5 * 60) return false;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${delivery.body}`).digest();
  return (delivery.headers["webhook-signature"] as string).split(" ").some((signature) => {
    const [version, value] = signature.split(",");
    const given = Buffer.from(value ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams({ title: "t", content: "<p>c</p>", ...fields }).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded" },
});

async function send(relay: RelayProcess, receiver: string, extra: Record<string, string> = {}): Promise<string> {
  const { body, headers } = form({ receiver, ...extra });
  const answer = await post(relay.url, body, headers);
  expect(answer.status).toBe(200);
  return answer.body.data.id as string;
}

function config(
  sinkPort: number,
  webhooks: string[],
  retry = "attempts: 3, baseSeconds: 0.3, maxSeconds: 0.3",
): string {
  return ["webhooks:", ...webhooks, deliveryYaml(sinkPort, [`  retry: { ${retry} }`], "primary")].join("\n");
}

const metricsText = async (relay: RelayProcess) => (await fetch(`${relay.url}/metrics`)).text();

/** The spool's webhook records, by status. */
function webhookRecords(dataDir: string): Record<string, { event: string; error?: string }[]> {
  const records: Record<string, { event: string; error?: string }[]> = {};
  for (const dir of ["spool", "archive"])
    for (const name of fs.readdirSync(path.join(dataDir, dir)).filter((n) => n.endsWith(".jsonl")))
      for (const line of fs.readFileSync(path.join(dataDir, dir, name), "utf8").split("\n"))
        if (line.includes('"type":"webhook"')) {
          const record = JSON.parse(line);
          (records[record.status] ??= []).push(record);
        }
  return records;
}

it("POSTs one signed event per listed outcome, carrying the recipients' states", async () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiver = await startReceiver((d) => (d.path === "/down" ? 503 : 204));
  const sink = await startSmtpSink({
    onRcpt: (address) =>
      address.startsWith("gone")
        ? { code: 550, message: "no such user" }
        : address.startsWith("later")
          ? { code: 451, message: "try later" }
          : undefined,
  });
  const dir = tmpDir();
  writeConfig(
    dir,
    config(
      sink.port,
      [
        `  - url: ${receiver.url}/events`,
        `    secret: "${secret}"`,
        `  - url: ${receiver.url}/down`,
        `    secret: "${secret}"`,
        "    events: [sent]",
        "    maxAgeHours: 0.0005",
      ],
      "attempts: 2, baseSeconds: 5, maxSeconds: 5",
    ),
  );
  const relay = await startRelay({ cwd: dir });
  try {
    const sent = await send(relay, "ok@example.com", { tags: "invoice,eu", metadata: '{"customer":"42"}' });
    const partial = await send(relay, "ok@example.com,gone@example.com");
    const failed = await send(relay, "gone@example.com");
    const deferred = await send(relay, "later@example.com");
    const events = () =>
      receiver.received.filter((d) => d.path === "/events").map((d) => ({ ...d, payload: JSON.parse(d.body) }));
    const of = (mail: string, type: string) =>
      events().filter((e) => e.payload.data.id === mail && e.payload.type === type);
    await waitFor(() => of(deferred, "mail.deferred").length >= 1, 10_000, "a deferred event");
    expect((await fetch(`${relay.url}/admin/cancel/${deferred}`, { method: "POST" })).status).toBe(200);
    await waitFor(
      () =>
        [
          of(sent, "mail.sent"),
          of(partial, "mail.partial"),
          of(failed, "mail.failed"),
          of(deferred, "mail.cancelled"),
        ].every((found) => found.length === 1),
      10_000,
      "an event for each outcome",
    );
    const now = Math.floor(Date.now() / 1000);
    for (const event of events()) {
      expect(verifiedBySpec(secret, event, now)).toBe(true);
      expect(() => new Webhook(secret).verify(event.body, event.headers as Record<string, string>)).not.toThrow();
      expect(event.payload.id).toBe(event.headers["webhook-id"]);
      expect(event.headers["content-type"]).toBe("application/json");
    }
    const ids = events().map((e) => e.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(verifiedBySpec(`whsec_${randomBytes(32).toString("base64")}`, events()[0]!, now)).toBe(false);
    const tampered = { ...events()[0]!, body: events()[0]!.body.replace("mail.", "mall.") };
    expect(verifiedBySpec(secret, tampered, now)).toBe(false);

    expect(of(partial, "mail.partial")[0]!.payload).toMatchObject({
      type: "mail.partial",
      data: {
        id: partial,
        state: "partial",
        recipients: [
          { address: "ok@example.com", kind: "to", state: "sent", lastError: null },
          { address: "gone@example.com", kind: "to", state: "failed-permanent" },
        ],
      },
    });
    expect(of(partial, "mail.partial")[0]!.payload.data.recipients[1].lastError).toContain("550");
    expect(Date.parse(of(sent, "mail.sent")[0]!.payload.timestamp)).toBeGreaterThan(0);
    expect(of(sent, "mail.sent")[0]!.payload.data).toMatchObject({
      tags: ["invoice", "eu"],
      metadata: { customer: "42" },
    });
    expect(of(partial, "mail.partial")[0]!.payload.data).not.toHaveProperty("tags");
    expect(of(deferred, "mail.deferred")[0]!.payload.data).toMatchObject({
      state: "deferred",
      recipients: [{ address: "later@example.com", state: "deferred" }],
    });
    expect(of(deferred, "mail.deferred")[0]!.payload.data.nextAttemptAt).not.toBeNull();
    expect(of(deferred, "mail.cancelled")[0]!.payload.data.state).toBe("cancelled");
    // no event for a type the subscription does not list
    expect(
      receiver.received.filter((d) => d.path === "/down").every((d) => JSON.parse(d.body).type === "mail.sent"),
    ).toBe(true);

    // /down refuses for longer than its maxAgeHours (1.8 s): its event is given up and recorded
    await waitFor(
      async () => /mailspool_webhook_given_up_total [1-9]/.test(await metricsText(relay)),
      15_000,
      "the /down event to be given up",
    );
    const metrics = await metricsText(relay);
    expect(metrics).toMatch(new RegExp(`mailspool_webhook_deliveries_total ${events().length}\\b`));
    expect(metrics).toMatch(/mailspool_webhook_failures_total [1-9]/);
  } finally {
    expect(await relay.stop()).toBe(0);
    await sink.close();
  }
  const records = webhookRecords(path.join(dir, "data"));
  expect(records["given-up"]).toHaveLength(1);
  expect(records["given-up"]![0]!.error).toBe("HTTP 503");
  expect(records.delivered!.length + 1).toBe(records.created!.length);
  // the readers take the new record type in their stride
  expect(runCli(["fsck"], dir).code).toBe(0);
  expect(runCli(["spool", "stat"], dir).code).toBe(0);
}, 60_000);

it("a receiver that refuses until the relay is killed -9 and restarted gets every event, by the same ids", async () => {
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  let accepting = false;
  const delay = { ms: 0 };
  const receiver = await startReceiver(() => (accepting ? 200 : 503), delay);
  const sink = await startSmtpSink();
  const dir = tmpDir();
  writeConfig(
    dir,
    config(sink.port, [`  - url: ${receiver.url}/events`, `    secret: "${secret}"`, "    events: [sent]"]),
  );
  let relay = await startRelay({ cwd: dir });
  const mails: string[] = [];
  try {
    for (let n = 0; n < 8; n += 1) mails.push(await send(relay, `r${n}@example.com`));
    const refusedIds = () => new Set(receiver.received.map((d) => d.headers["webhook-id"] as string));
    await waitFor(() => refusedIds().size === mails.length, 15_000, "a refused try of every event");
    await relay.kill();
  } catch (error) {
    await relay.kill();
    throw error;
  }
  const before = new Set(receiver.received.map((d) => d.headers["webhook-id"] as string));
  accepting = true;
  relay = await startRelay({ cwd: dir });
  try {
    const accepted = () => receiver.received.filter((d) => d.status === 200);
    await waitFor(
      () => new Set(accepted().map((d) => d.headers["webhook-id"])).size === mails.length,
      15_000,
      "every event",
    );
    const ids = accepted().map((d) => d.headers["webhook-id"] as string);
    // the ids given before the crash, no others; each once (nothing was accepted before the kill, so no crash window)
    expect(new Set(ids)).toEqual(before);
    const duplicates = ids.length - new Set(ids).size;
    console.log(
      `event webhooks across kill -9: ${mails.length} events, ${receiver.received.length - ids.length} refused tries, ${duplicates} duplicates`,
    );
    expect(duplicates).toBe(0);
    const mailIds = accepted().map((d) => JSON.parse(d.body).data.id);
    expect(new Set(mailIds)).toEqual(new Set(mails));
    for (const d of accepted())
      expect(() => new Webhook(secret).verify(d.body, d.headers as Record<string, string>)).not.toThrow();
    // a delivered event is settled in the index: once it is written, nothing is left pending
    await waitFor(
      () => metricsText(relay).then((text) => /mailspool_webhook_pending 0\b/.test(text)),
      5_000,
      "no pending events",
    );

    // the crash window: killed while POSTs are answered slowly, some arrive twice, never more than were under way
    delay.ms = 300;
    const firstRound = receiver.received.length;
    for (let n = 0; n < 8; n += 1) mails.push(await send(relay, `s${n}@example.com`));
    await waitFor(() => receiver.received.length > firstRound, 10_000, "a POST of the second round");
    await relay.kill();
    const underWay = new Set(receiver.received.slice(firstRound).map((d) => d.headers["webhook-id"])).size;
    delay.ms = 0;
    relay = await startRelay({ cwd: dir });
    await waitFor(
      () => new Set(accepted().map((d) => d.headers["webhook-id"])).size === mails.length,
      15_000,
      "every event",
    );
    const all = accepted().map((d) => d.headers["webhook-id"] as string);
    const crashDuplicates = all.length - new Set(all).size;
    console.log(`killed with ${underWay} event POSTs under way: ${crashDuplicates} arrived twice`);
    expect(crashDuplicates).toBeLessThanOrEqual(underWay);
    expect(new Set(accepted().map((d) => JSON.parse(d.body).data.id))).toEqual(new Set(mails));
  } finally {
    expect(await relay.stop()).toBe(0);
    await sink.close();
  }
  // a rebuilt index knows every event is settled: nothing pending to resend
  expect(runCli(["reindex"], dir).code).toBe(0);
  const db = new Database(path.join(dir, "data/index.sqlite"), { readonly: true });
  try {
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM webhooks").get()!.n).toBe(0);
  } finally {
    db.close();
  }
  expect(webhookRecords(path.join(dir, "data")).delivered).toHaveLength(mails.length);
}, 60_000);

it("a receiver back up gets its waiting events at once, not at their backoff", async () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  let up = false;
  const receiver = await startReceiver(() => (up ? 204 : 503));
  const sink = await startSmtpSink();
  const dir = tmpDir();
  writeConfig(
    dir,
    config(sink.port, [`  - url: ${receiver.url}/events`, `    secret: "${secret}"`, "    events: [sent]"]),
  );
  const relay = await startRelay({ cwd: dir });
  try {
    const waiting = [await send(relay, "a@example.com"), await send(relay, "b@example.com")];
    const tries = () => {
      const times = new Map<string, number[]>();
      for (const d of receiver.received) {
        const id = d.headers["webhook-id"] as string;
        times.set(id, [...(times.get(id) ?? []), d.at]);
      }
      return times;
    };
    // third tries: the next would come 4 to 8 s later (backoff 2 s × 2², jittered)
    await waitFor(() => tries().size === 2 && [...tries().values()].every((t) => t.length >= 3), 20_000, "three tries");
    const thirdTries = new Map([...tries()].map(([id, times]) => [id, times[2]!]));
    up = true;
    await send(relay, "c@example.com");
    await waitFor(() => receiver.received.filter((d) => d.status === 204).length === 3, 10_000, "every event");
    for (const d of receiver.received.filter(
      (r) => r.status === 204 && thirdTries.has(r.headers["webhook-id"] as string),
    ))
      expect(d.at - thirdTries.get(d.headers["webhook-id"] as string)!).toBeLessThan(4_000);
    const delivered = receiver.received.filter((d) => d.status === 204).map((d) => JSON.parse(d.body).data.id);
    expect(new Set(delivered).size).toBe(3);
    expect(delivered).toEqual(expect.arrayContaining(waiting));
  } finally {
    expect(await relay.stop()).toBe(0);
    await sink.close();
  }
}, 60_000);
