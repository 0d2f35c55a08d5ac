// /health says why it is not `ok`: `reasons: [{code, message}]` for each cause — delivery
// paused, every upstream failing, an active alert (200 `degraded`), shutting down or the
// disk below its reserve (503) — and an empty list when all is well. Real sockets, a real
// SMTP sink, the alert clock injected.
import { afterEach, describe, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";

const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

const formHeaders = { "content-type": "application/x-www-form-urlencoded" };
const form = (receiver = "a@example.com") =>
  new URLSearchParams({ title: "t", content: "<p>c</p>", receiver }).toString();

async function health(relay: InProcessRelay) {
  const response = await fetch(`${relay.url}/health`);
  return { status: response.status, body: await response.json() };
}

async function relayWithSink(sink: SmtpSink, extra: string[] = [], clock?: { now: () => number }) {
  const relay = await startInProcess(
    [...extra, deliveryYaml(sink.port, ["  retry: { attempts: 1, baseSeconds: 600, maxSeconds: 600 }"])].join("\n"),
    clock ? { clock } : {},
  );
  relays.push(relay);
  return relay;
}

describe("/health reasons", () => {
  it("is ok with no reasons, then degraded saying delivery is paused, then ok again", async () => {
    const relay = await startInProcess("");
    relays.push(relay);
    expect(await health(relay)).toMatchObject({ status: 200, body: { status: "ok", reasons: [] } });
    await fetch(`${relay.url}/admin/pause`, { method: "POST" });
    const paused = await health(relay);
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe("degraded");
    expect(paused.body.reasons).toEqual([{ code: "delivery_paused", message: expect.stringMatching(/paused/) }]);
    await fetch(`${relay.url}/admin/resume`, { method: "POST" });
    expect((await health(relay)).body).toMatchObject({ status: "ok", reasons: [] });
  });

  it("names the upstreams when every one failed its last transaction", async () => {
    const sink = await startSmtpSink({ onConnect: () => ({ code: 421, message: "closing" }) });
    sinks.push(sink);
    const relay = await relayWithSink(sink);
    const id = (await post(relay.url, form(), formHeaders)).body.data.id;
    await relay.waitForState(id, ["failed", "deferred"]);
    const answer = await health(relay);
    expect(answer.status).toBe(200);
    expect(answer.body.reasons).toContainEqual({
      code: "upstreams_failing",
      message: "Every upstream failed its last transaction: sink",
    });
  });

  it("gives each active alert with its figure and limit", async () => {
    const sink = await startSmtpSink({ onRcpt: () => ({ code: 550, message: "no such user" }) });
    sinks.push(sink);
    let now = Date.now();
    const relay = await relayWithSink(sink, ["alerts:", "  oldestQueuedMinutes: 30", "  failureRatePercent: 20"], {
      now: () => now,
    });
    const ids = [];
    for (let i = 0; i < 5; i += 1)
      ids.push((await post(relay.url, form(`u${i}@example.com`), formHeaders)).body.data.id);
    for (const id of ids) await relay.waitForState(id, ["failed"]);
    await fetch(`${relay.url}/admin/pause`, { method: "POST" });
    await post(relay.url, form(), formHeaders);
    now += 45 * 60_000;
    relay.alerts.evaluate();
    const answer = await health(relay);
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("degraded");
    expect(answer.body.reasons.map((r: { code: string }) => r.code)).toEqual([
      "delivery_paused",
      "alert_backlog",
      "alert_failure_rate",
    ]);
    expect(answer.body.reasons[1].message).toBe(
      "Backlog alert: the oldest waiting mail is 45 min old (alerts.oldestQueuedMinutes: 30)",
    );
    expect(answer.body.reasons[2].message).toMatch(
      /^Failure-rate alert: 100% of the attempts .*failureRatePercent: 20/,
    );
  });

  it("answers 503 saying why intake cannot accept: the disk below its reserve, shutting down", async () => {
    const relay = await startInProcess("spool:\n  minFreeBytes: 1000000000000000");
    relays.push(relay);
    const full = await health(relay);
    expect(full.status).toBe(503);
    expect(full.body.status).toBe("degraded");
    expect(full.body.reasons).toEqual([
      {
        code: "disk_below_reserve",
        message: expect.stringMatching(/below the reserve of \d+ MiB \(spool.minFreeBytes\)/),
      },
    ]);
    relay.gate.accepting = false;
    expect((await health(relay)).body.reasons.map((r: { code: string }) => r.code)).toEqual([
      "shutting_down",
      "disk_below_reserve",
    ]);
  });
});
