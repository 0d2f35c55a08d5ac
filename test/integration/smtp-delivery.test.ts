// Delivery through real SMTP upstreams (the test sink over TCP): AUTH, failover, daily
// limits, batches, per-recipient and after-DATA rejections, retries with backoff and a
// delay hint, a dropped connection, and the failed spool.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, upstreamYaml, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";

const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function sink(behaviour: Parameters<typeof startSmtpSink>[0] = {}) {
  const s = await startSmtpSink(behaviour);
  sinks.push(s);
  return s;
}

async function relay(upstreams: Parameters<typeof upstreamYaml>[0], extra: string[] = []) {
  const yaml = [
    "delivery:",
    "  from: relay@example.org",
    "  connectTimeoutSeconds: 2",
    "  socketTimeoutSeconds: 2",
    "  batch: { size: 20, delayMs: 10, continueOnError: true }",
    "  retry: { attempts: 3, baseSeconds: 0.05, maxSeconds: 0.2 }",
    ...extra,
    "  upstreams:",
    upstreamYaml(upstreams),
  ].join("\n");
  const r = await startInProcess(yaml);
  relays.push(r);
  return r;
}

async function send(r: InProcessRelay, fields: Record<string, string>) {
  const answer = await post(
    r.url,
    new URLSearchParams({ title: "hello", content: "<p>hi</p>", ...fields }).toString(),
    { "content-type": "application/x-www-form-urlencoded" },
  );
  expect(answer.status).toBe(200);
  return answer.body.data.id as string;
}

function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const addresses = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@example.com`);

describe("SMTP delivery", () => {
  it("delivers with AUTH and records the transaction", async () => {
    const up = await sink({ auth: { user: "app", pass: "secret-pass" } });
    const r = await relay([{ name: "primary", port: up.port, user: "app", pass: "secret-pass" }]);
    const id = await send(r, { receiver: "a@example.com,b@example.com", cc: "c@example.com" });
    const status = await r.waitForState(id, ["sent"]);
    const [message] = await up.waitForMessages(1);
    expect(message!.user).toBe("app");
    expect(message!.from).toBe("relay@example.org");
    expect(message!.to.sort()).toEqual(["a@example.com", "b@example.com", "c@example.com"]);
    expect(message!.raw.toString()).toContain(`Message-ID: <${id}@example.org>`);
    expect(status.attempts[0].transactions[0]).toMatchObject({ upstream: "primary", code: 250 });
  });

  it("fails over from a dead port to the next upstream within one attempt", async () => {
    const up = await sink();
    const r = await relay([
      { name: "dead", port: await deadPort() },
      { name: "backup", port: up.port },
    ]);
    const id = await send(r, { receiver: "a@example.com" });
    const status = await r.waitForState(id, ["sent"]);
    expect(status.attempts).toHaveLength(1);
    expect(status.attempts[0].transactions.map((t: { upstream: string }) => t.upstream)).toEqual(["dead", "backup"]);
    expect(status.attempts[0].transactions[0].code).toBe(0);
    expect(up.messages).toHaveLength(1);
  });

  it("hands over to the next upstream when dailyLimit is reached", async () => {
    const primary = await sink();
    const backup = await sink();
    const r = await relay([
      { name: "primary", port: primary.port, dailyLimit: 3 },
      { name: "backup", port: backup.port },
    ]);
    const first = await send(r, { receiver: "a@example.com,b@example.com" });
    await r.waitForState(first, ["sent"]);
    const second = await send(r, { receiver: "c@example.com,d@example.com" });
    await r.waitForState(second, ["sent"]);
    expect(primary.messages.flatMap((m) => m.to).sort()).toEqual(["a@example.com", "b@example.com", "c@example.com"]);
    expect(backup.messages.flatMap((m) => m.to)).toEqual(["d@example.com"]);
    const third = await send(r, { receiver: "e@example.com" });
    expect((await r.waitForState(third, ["sent"])).attempts[0].transactions[0].upstream).toBe("backup");
  });

  it("splits 45 recipients into envelopes of 20, 20 and 5 built from one MIME message", async () => {
    const up = await sink();
    const r = await relay([{ name: "primary", port: up.port }], ["  maxRecipients: 100"]);
    const id = await send(r, { receiver: addresses(45).join(",") });
    await r.waitForState(id, ["sent"]);
    expect(up.messages.map((m) => m.to.length)).toEqual([20, 20, 5]);
    const bodies = new Set(up.messages.map((m) => m.raw.toString()));
    expect(bodies.size).toBe(1);
  });

  it("marks the one recipient rejected with 550 failed-permanent and the mail partial", async () => {
    const up = await sink({
      onRcpt: (address) => (address === "bad@example.com" ? { code: 550, message: "no such user" } : undefined),
    });
    const r = await relay([{ name: "primary", port: up.port }]);
    const id = await send(r, { receiver: "a@example.com,bad@example.com,c@example.com" });
    const status = await r.waitForState(id, ["partial"]);
    expect(status.recipients.map((x: { address: string; state: string }) => [x.address, x.state])).toEqual([
      ["a@example.com", "sent"],
      ["bad@example.com", "failed-permanent"],
      ["c@example.com", "sent"],
    ]);
    expect(status.attempts).toHaveLength(1);
    const view = await waitForFailedView(r, id);
    expect(view.state).toBe("partial");
    expect(view.recipients.find((x: { address: string }) => x.address === "bad@example.com").lastError).toContain(
      "550",
    );
  });

  it("fails every recipient of the envelope on a 5xx after DATA", async () => {
    const up = await sink({ onData: () => ({ code: 554, message: "content rejected" }) });
    const r = await relay([{ name: "primary", port: up.port }]);
    const id = await send(r, { receiver: "a@example.com,b@example.com" });
    const status = await r.waitForState(id, ["failed"]);
    expect(status.recipients.map((x: { state: string }) => x.state)).toEqual(["failed-permanent", "failed-permanent"]);
    expect(status.attempts).toHaveLength(1);
  });

  it("retries after a 451 and delivers on the next attempt", async () => {
    let calls = 0;
    const up = await sink({ onData: () => (calls++ === 0 ? { code: 451, message: "try later" } : undefined) });
    const r = await relay([{ name: "primary", port: up.port }]);
    const id = await send(r, { receiver: "a@example.com" });
    const status = await r.waitForState(id, ["sent"]);
    expect(status.attempts.map((a: { state: string }) => a.state)).toEqual(["deferred", "sent"]);
    expect(up.messages).toHaveLength(1);
  });

  it("stretches the wait to a 'try again in N seconds' hint, capped at retry.maxSeconds", async () => {
    const up = await sink({ onRcpt: () => ({ code: 451, message: "4.7.1 Greylisted, try again in 600 seconds" }) });
    const slow = await startInProcess(
      deliveryYaml(up.port, ["  retry: { attempts: 3, baseSeconds: 1, maxSeconds: 900 }"], "primary"),
      { clock: { random: () => 0 } },
    );
    relays.push(slow);
    const id = await send(slow, { receiver: "a@example.com" });
    const status = await slow.waitForState(id, ["deferred"]);
    const attempt = slow.records(id).find((x) => x.type === "attempt");
    expect(Date.parse(status.nextAttemptAt) - Date.parse(attempt.ts)).toBeGreaterThanOrEqual(600_000);
    expect(Date.parse(status.nextAttemptAt) - Date.parse(attempt.ts)).toBeLessThan(601_000);
    expect(status.recipients[0].state).toBe("deferred");
  });

  it("retries a connection dropped mid-DATA and delivers exactly once", async () => {
    let calls = 0;
    const up = await sink({ onData: () => (calls++ === 0 ? "drop" : undefined) });
    const r = await relay([{ name: "primary", port: up.port }]);
    const id = await send(r, { receiver: "a@example.com" });
    const status = await r.waitForState(id, ["sent"]);
    expect(status.attempts.length).toBe(2);
    expect(up.messages).toHaveLength(1);
  });

  it("treats AUTH 535 as an upstream failure, not a recipient failure", async () => {
    const up = await sink({ auth: { user: "app", pass: "right-pass" } });
    const r = await relay([{ name: "primary", port: up.port, user: "app", pass: "wrong-pass" }]);
    const id = await send(r, { receiver: "a@example.com" });
    const status = await r.waitForState(id, ["failed"]);
    expect(status.attempts).toHaveLength(3);
    expect(status.attempts[0].transactions[0].code).toBe(535);
    expect(status.recipients[0].state).toBe("failed-transient");
    expect(JSON.stringify(r.records(id))).not.toContain("wrong-pass");
  });

  it("puts a mail whose retries are spent into failed/failed.jsonl", async () => {
    const up = await sink({ onRcpt: () => ({ code: 450, message: "mailbox busy" }) });
    const r = await relay([{ name: "primary", port: up.port }]);
    const id = await send(r, { receiver: "a@example.com" });
    await r.waitForState(id, ["failed"]);
    const view = await waitForFailedView(r, id);
    expect(view).toMatchObject({ id, state: "failed", attempts: 3 });
    expect(view.recipients[0]).toMatchObject({ address: "a@example.com", state: "failed-transient" });
    expect(view.recipients[0].lastError).toContain("450");
  });

  it("defers when every upstream is down, dropping nothing", async () => {
    const r = await relay([{ name: "dead", port: await deadPort() }], []);
    const id = await send(r, { receiver: "a@example.com" });
    const status = await r.waitForState(id, ["failed"]);
    expect(status.recipients[0].state).toBe("failed-transient");
    expect(status.attempts.map((a: { state: string }) => a.state)).toEqual(["deferred", "deferred", "failed"]);
  });
});

async function waitForFailedView(r: InProcessRelay, id: string): Promise<any> {
  const file = path.join(r.dir, "data/failed/failed.jsonl");
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = fs.existsSync(file)
      ? fs
          .readFileSync(file, "utf8")
          .split("\n")
          .find((l) => l.includes(`"id":"${id}"`))
      : undefined;
    if (line) return JSON.parse(line);
    if (Date.now() > deadline) throw new Error("mail never reached failed.jsonl");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
