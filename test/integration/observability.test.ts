// /metrics (Prometheus text and the JSON totals, which survive a restart), alerts, and
// SIGHUP reloads (tokens on the real binary; upstreams in-process).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { get, post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

const form = (title = "t") => new URLSearchParams({ title, content: "<p>c</p>", receiver: "a@example.com" }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };
const metricValue = (text: string, name: string) =>
  Number(new RegExp(`^${name.replace(/[{}"=]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);

describe("/metrics", () => {
  it("counts intake, rejections, commits and delivery, and keeps JSON totals across a restart", async () => {
    const relay = await startInProcess("");
    const sent = await post(relay.url, form(), formHeaders);
    await relay.waitForState(sent.body.data.id, ["sent"]);
    expect(
      (await post(relay.url, new URLSearchParams({ title: "no receiver", content: "c" }).toString(), formHeaders))
        .status,
    ).toBe(400);
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metricValue(text, "mailspool_accepted_total")).toBe(1);
    expect(metricValue(text, 'mailspool_rejected_total{reason="invalid_param"}')).toBe(1);
    expect(metricValue(text, 'mailspool_attempts_total{state="sent"}')).toBe(1);
    expect(metricValue(text, 'mailspool_upstream_transactions_total{upstream="outbox",class="2xx"}')).toBe(1);
    // two commits: the accepted record, then the outbox's outcome with the attempt's end
    expect(metricValue(text, "mailspool_fsync_batch_lines_count")).toBe(2);
    expect(metricValue(text, "mailspool_intake_seconds_count")).toBe(1);
    expect(metricValue(text, "mailspool_queue_depth")).toBe(0);
    const json = await (await fetch(`${relay.url}/metrics?format=json`)).json();
    expect(json).toMatchObject({ total_emails: 1, successful_emails: 1, failed_emails: 0, total_recipients: 1 });
    expect(json.avg_processing_time_ms).toBeGreaterThanOrEqual(0);
    await relay.stop();
    const restarted = await startInProcess("", {}, relay.dir);
    relays.push(restarted);
    expect(await (await fetch(`${restarted.url}/metrics?format=json`)).json()).toMatchObject({
      total_emails: 1,
      successful_emails: 1,
    });
  });

  it("is refused outside admin.allow", async () => {
    const relay = await startInProcess('admin:\n  allow: ["10.0.0.0/8"]');
    relays.push(relay);
    expect((await fetch(`${relay.url}/metrics`)).status).toBe(403);
  });
});

describe("alerts", () => {
  it("raises the backlog alert once per episode and makes /health degraded", async () => {
    const sink = await startSmtpSink({ onRcpt: () => ({ code: 451, message: "later" }) });
    sinks.push(sink);
    let now = Date.now();
    const relay = await startInProcess(
      [
        "alerts:",
        "  oldestQueuedMinutes: 30",
        "  failureRatePercent: 0",
        deliveryYaml(sink.port, ["  retry: { attempts: 5, baseSeconds: 600, maxSeconds: 600 }"]),
      ].join("\n"),
      { clock: { now: () => now } },
    );
    relays.push(relay);
    const id = (await post(relay.url, form(), formHeaders)).body.data.id;
    await relay.waitForState(id, ["deferred"]);
    relay.alerts.evaluate();
    expect(relay.alerts.activeAlerts).toEqual([]);
    now += 31 * 60_000;
    relay.alerts.evaluate();
    relay.alerts.evaluate();
    expect(relay.alerts.activeAlerts).toEqual(["backlog"]);
    const health = await get(relay.url, "/health");
    expect(health.status).toBe(200);
    expect((health.body as unknown as { status: string }).status).toBe("degraded");
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metricValue(text, 'mailspool_alert_active{alert="backlog"}')).toBe(1);
  });
});

describe("SIGHUP", () => {
  it("swaps tokens on the running binary and refuses an invalid file, keeping the old config", async () => {
    const dir = tmpDir();
    const tokens = (token: string) => ["server:", "  tokens:", `    - { name: app, token: "${token}" }`].join("\n");
    writeConfig(dir, tokens("first-token-0123456789"));
    const relay = await startRelay({ cwd: dir });
    try {
      const auth = (token: string) => ({ ...formHeaders, authorization: `Bearer ${token}` });
      expect((await post(relay.url, form(), auth("first-token-0123456789"))).status).toBe(200);
      writeConfig(dir, tokens("second-token-0123456789"));
      relay.child.kill("SIGHUP");
      await waitFor(
        async () => (await post(relay.url, form(), auth("second-token-0123456789"))).status === 200,
        5_000,
        "the new token",
      );
      expect((await post(relay.url, form(), auth("first-token-0123456789"))).status).toBe(401);
      writeConfig(dir, "server:\n  tokens: nonsense");
      relay.child.kill("SIGHUP");
      await waitFor(() => relay.output().includes("new config refused"), 5_000, "the refusal");
      expect((await post(relay.url, form(), auth("second-token-0123456789"))).status).toBe(200);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it("moves delivery to new upstreams without losing or re-sending mail", async () => {
    const first = await startSmtpSink();
    const second = await startSmtpSink();
    sinks.push(first, second);
    const yaml = (port: number) => deliveryYaml(port, [], "up");
    const relay = await startInProcess(yaml(first.port));
    relays.push(relay);
    const before = (await post(relay.url, form("before"), formHeaders)).body.data.id;
    await relay.waitForState(before, ["sent"]);
    fs.writeFileSync(path.join(relay.dir, "app.yaml"), yaml(second.port));
    relay.reload(loadConfig({ cwd: relay.dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } }));
    const after = (await post(relay.url, form("after"), formHeaders)).body.data.id;
    await relay.waitForState(after, ["sent"]);
    expect(first.messages.map((m) => m.raw.toString().includes("Subject: before"))).toEqual([true]);
    expect(second.messages.map((m) => m.raw.toString().includes("Subject: after"))).toEqual([true]);
    fs.writeFileSync(path.join(relay.dir, "app.yaml"), `${yaml(second.port)}\n  workers: 9`);
    expect(() => relay.reload(loadConfig({ cwd: relay.dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } }))).toThrow(
      /delivery.workers/,
    );
  });
});
