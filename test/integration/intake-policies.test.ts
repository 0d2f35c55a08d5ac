// Quotas (429 with Retry-After, rebuilt from the spool at start) and Idempotency-Key
// (same answer once, 409 for a different request, concurrent repeat waits, survives kill -9).
import { afterEach, describe, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

const form = (fields: Record<string, string>) =>
  new URLSearchParams({ title: "t", content: "<p>c</p>", receiver: "a@example.com", ...fields }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

describe("quotas", () => {
  it("answers 429 with Retry-After over the hourly quota, and remembers the count across a restart", async () => {
    const dir = tmpDir();
    const yaml = ["quotas:", "  perClient: { hour: 2, day: 0 }"].join("\n");
    const relay = await startInProcess(yaml, {}, dir);
    expect((await post(relay.url, form({}), formHeaders)).status).toBe(200);
    expect((await post(relay.url, form({}), formHeaders)).status).toBe(200);
    const refused = await post(relay.url, form({}), formHeaders);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.body.data.retryAfter).toBe(retryAfter);
    await relay.stop();
    const restarted = await startInProcess(yaml, {}, dir);
    relays.push(restarted);
    expect((await post(restarted.url, form({}), formHeaders)).status).toBe(429);
  });
});

describe("Idempotency-Key", () => {
  it("returns the first answer for a repeat, queues nothing new, and delivers once", async () => {
    const sink = await startSmtpSink();
    sinks.push(sink);
    const relay = await startInProcess(deliveryYaml(sink.port));
    relays.push(relay);
    const headers = { ...formHeaders, "idempotency-key": "order-42" };
    const first = await post(relay.url, form({ title: "order 42" }), headers);
    const again = await post(relay.url, form({ title: "order 42 " }), headers);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    await relay.waitForState(first.body.data.id, ["sent"]);
    expect(sink.messages).toHaveLength(1);
    expect(relay.spool.index.size).toBe(1);
    const different = await post(relay.url, form({ title: "another order" }), headers);
    expect(different.status).toBe(409);
    const otherKey = await post(relay.url, form({ title: "order 42" }), {
      ...formHeaders,
      "idempotency-key": "order-43",
    });
    expect(otherKey.body.data.id).not.toBe(first.body.data.id);
    const tooLong = await post(relay.url, form({}), { ...formHeaders, "idempotency-key": "x".repeat(257) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.data.errors[0].field).toBe("Idempotency-Key");
  });

  it("makes a concurrent repeat wait for the first and answer with its id", async () => {
    const relay = await startInProcess("");
    relays.push(relay);
    const headers = { ...formHeaders, "idempotency-key": "concurrent" };
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(relay.url, form({}), headers)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
    expect(relay.spool.index.size).toBe(1);
  });

  it("remembers the key across kill -9", async () => {
    const dir = tmpDir();
    writeConfig(dir, "");
    const headers = { ...formHeaders, "idempotency-key": "survives" };
    const relay = await startRelay({ cwd: dir });
    const first = await post(relay.url, form({}), headers);
    await relay.kill();
    const restarted = await startRelay({ cwd: dir });
    try {
      const again = await post(restarted.url, form({}), headers);
      expect(again.status).toBe(200);
      expect(again.body.data.id).toBe(first.body.data.id);
    } finally {
      await restarted.stop();
    }
  });
});
