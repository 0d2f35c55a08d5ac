// Operator tools against the real SMTP test server: the failed-spool rescan, replay and
// cancel (CLI through pickup files, admin API), hand-written pickup files, pause/resume.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, runCliAsync } from "../helpers/cli.js";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const relays: InProcessRelay[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function setup(behaviour: Parameters<typeof startSmtpSink>[0], extra: string[] = [], dir?: string) {
  const sink = await startSmtpSink(behaviour);
  sinks.push(sink);
  const relay = await start(sink, extra, dir);
  return { sink, relay };
}

async function start(sink: SmtpSink, extra: string[] = [], dir?: string) {
  const yaml = [
    ...extra,
    deliveryYaml(sink.port, [
      "  from: relay@example.org",
      "  retry: { attempts: 1, baseSeconds: 0.05, maxSeconds: 0.1 }",
    ]),
  ].join("\n");
  const relay = await startInProcess(yaml, { pickupIntervalMs: 50 }, dir);
  relays.push(relay);
  return relay;
}

async function send(relay: InProcessRelay, receiver: string) {
  const answer = await post(
    relay.url,
    new URLSearchParams({ title: "ops", content: "<p>x</p>", receiver }).toString(),
    { "content-type": "application/x-www-form-urlencoded" },
  );
  expect(answer.status).toBe(200);
  return answer.body.data.id as string;
}

const reject = (codes: Record<string, number>) => (address: string) =>
  codes[address]
    ? { code: codes[address]!, message: codes[address]! >= 500 ? "no such user" : "busy, later" }
    : undefined;
const sentTo = (sink: SmtpSink, address: string) => sink.messages.filter((m) => m.to.includes(address)).length;

describe("failed spool", () => {
  it("a seconds-level rescan re-drives the transient failure and leaves the permanent one", async () => {
    const codes: Record<string, number> = { "soft@example.com": 451, "hard@example.com": 550 };
    const { sink, relay } = await setup({ onRcpt: reject(codes) }, [
      "failed:",
      '  rescan: "*/1 * * * * *"',
      "  maxAgeHours: 1",
    ]);
    const id = await send(relay, "ok@example.com,soft@example.com,hard@example.com");
    await relay.waitForState(id, ["partial"]);
    delete codes["soft@example.com"];
    await waitFor(() => sentTo(sink, "soft@example.com") === 1, 5_000, "the rescan to deliver soft@");
    const status = await relay.waitForState(id, ["partial"]);
    expect(
      Object.fromEntries(status.recipients.map((r: { address: string; state: string }) => [r.address, r.state])),
    ).toEqual({
      "ok@example.com": "sent",
      "soft@example.com": "sent",
      "hard@example.com": "failed-permanent",
    });
    expect(sentTo(sink, "hard@example.com")).toBe(0);
    expect(sentTo(sink, "ok@example.com")).toBe(1);
  });
});

describe("replay and cancel", () => {
  it("replay of a partial mail reaches only the failed recipient, exactly once, keeping id and Message-ID", async () => {
    const codes: Record<string, number> = { "hard@example.com": 550 };
    const { sink, relay } = await setup({ onRcpt: reject(codes) });
    const id = await send(relay, "ok@example.com,hard@example.com");
    await relay.waitForState(id, ["partial"]);
    delete codes["hard@example.com"];
    // the re-drive takes failed-transient recipients; hard@ failed for good, so only --include-permanent takes it
    const dry = runCli(["replay", "--failed", "--dry-run", "-c", "app.yaml"], relay.dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`skip ${id} (partial): has only permanently failed recipients (hard@example.com)`);
    const wider = runCli(["replay", "--failed", "--include-permanent", "--dry-run", "-c", "app.yaml"], relay.dir);
    expect(wider.code).toBe(0);
    expect(wider.stdout).toContain(`would replay ${id} (partial) to hard@example.com`);
    expect(fs.readdirSync(path.join(relay.dir, "data/pickup")).filter((n) => n.endsWith(".json"))).toEqual([]);
    const replay = await runCliAsync(["replay", id, "-c", "app.yaml"], relay.dir);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed ${id} to 1 recipient`);
    await relay.waitForState(id, ["sent"]);
    expect(sentTo(sink, "hard@example.com")).toBe(1);
    expect(sentTo(sink, "ok@example.com")).toBe(1);
    expect(sink.messages.at(-1)!.raw.toString()).toContain(`Message-ID: <${id}@example.org>`);
    expect(fs.readdirSync(path.join(relay.dir, "data/pickup")).filter((n) => n.endsWith(".json"))).toEqual([]);
    await waitFor(
      () => !fs.readFileSync(path.join(relay.dir, "data/failed/failed.jsonl"), "utf8").includes(id),
      5_000,
      "failed.jsonl without the mail",
    );
  });

  it("replay while the server is stopped is delivered at the next start", async () => {
    const codes: Record<string, number> = { "a@example.com": 550 };
    const { sink, relay } = await setup({ onRcpt: reject(codes) });
    const id = await send(relay, "a@example.com");
    await relay.waitForState(id, ["failed"]);
    await relay.stop();
    relays.pop();
    delete codes["a@example.com"];
    const replay = runCli(["replay", id, "-c", "app.yaml"], relay.dir);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("next start");
    const restarted = await start(sink, [], relay.dir);
    await restarted.waitForState(id, ["sent"]);
    expect(sentTo(sink, "a@example.com")).toBe(1);
  });

  it("cancel stops a deferred mail for good (CLI) and the admin API cancels another", async () => {
    const sink = await startSmtpSink({ onRcpt: () => ({ code: 451, message: "later" }) });
    sinks.push(sink);
    const slow = await startInProcess(
      deliveryYaml(sink.port, ["  retry: { attempts: 5, baseSeconds: 60, maxSeconds: 60 }"]),
      { pickupIntervalMs: 50 },
    );
    relays.push(slow);
    const first = await send(slow, "a@example.com");
    const second = await send(slow, "b@example.com");
    await slow.waitForState(first, ["deferred"]);
    const cancel = await runCliAsync(["cancel", first, "-c", "app.yaml"], slow.dir);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancelled ${first}`);
    await slow.waitForState(first, ["cancelled"]);
    await slow.waitForState(second, ["deferred"]);
    const answer = await fetch(`${slow.url}/admin/cancel/${second}`, { method: "POST" });
    expect(answer.status).toBe(200);
    expect((await slow.waitForState(second, ["cancelled"])).state).toBe("cancelled");
    expect(slow.records(first).at(-1)).toMatchObject({ type: "cancel" });
    // cancelled is final: a replay of it is refused by the CLI before anything is written
    const refused = runCli(["replay", first, "-c", "app.yaml"], slow.dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("cancelled, which is final");
    expect(fs.readdirSync(path.join(slow.dir, "data/pickup")).filter((n) => n.endsWith(".json"))).toEqual([]);
    expect((await slow.waitForState(first, ["cancelled"])).state).toBe("cancelled");
    const again = await fetch(`${slow.url}/admin/cancel/01ZZZZZZZZZZZZZZZZZZZZZZZZ`, { method: "POST" });
    expect(again.status).toBe(404);
    expect(runCli(["cancel", "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "-c", "app.yaml"], slow.dir).code).toBe(1);
  });

  it("POST /admin/retry-failed re-drives the failed spool and says how many", async () => {
    const codes: Record<string, number> = { "a@example.com": 550, "b@example.com": 550 };
    const { sink, relay } = await setup({ onRcpt: reject(codes) });
    const ids = [await send(relay, "a@example.com"), await send(relay, "b@example.com")];
    for (const id of ids) await relay.waitForState(id, ["failed"]);
    delete codes["a@example.com"];
    delete codes["b@example.com"];
    const answer = await fetch(`${relay.url}/admin/retry-failed`, {
      method: "POST",
      // both failed for good at RCPT (550): only includePermanent takes them again
      body: JSON.stringify({ since: "1h", includePermanent: true }),
      headers: { "content-type": "application/json" },
    });
    expect(answer.status).toBe(200);
    expect((await answer.json()).data.count).toBe(2);
    for (const id of ids) await relay.waitForState(id, ["sent"]);
    expect(sink.messages).toHaveLength(2);
    const bad = await fetch(`${relay.url}/admin/retry-failed`, {
      method: "POST",
      body: JSON.stringify({ since: "yesterday-ish" }),
    });
    expect(bad.status).toBe(400);
  });
});

describe("pickup directory", () => {
  it("sends a hand-written JSON file, rejects an unusable one with a reason, ignores .tmp and dotfiles", async () => {
    const { sink, relay } = await setup({});
    const pickup = path.join(relay.dir, "data/pickup");
    fs.writeFileSync(path.join(pickup, "later.json.tmp"), '{"title":"no"}');
    fs.writeFileSync(path.join(pickup, ".hidden.json"), '{"title":"no"}');
    fs.writeFileSync(path.join(pickup, "bad.json"), JSON.stringify({ title: "no receiver", content: "x" }));
    fs.writeFileSync(
      path.join(pickup, "hello.json"),
      JSON.stringify({
        title: "by hand",
        content: "<p>hand</p>",
        receiver: "hand@example.com",
        attachment: [{ filename: "a.txt", content: "aGk=" }],
      }),
    );
    await sink.waitForMessages(1);
    expect(sink.messages[0]!.raw.toString()).toContain("Subject: by hand");
    await waitFor(() => fs.existsSync(path.join(pickup, "rejected/bad.json.reason.txt")), 5_000, "the rejection");
    expect(fs.readFileSync(path.join(pickup, "rejected/bad.json.reason.txt"), "utf8")).toContain("receiver");
    expect(fs.readdirSync(pickup).sort()).toEqual([".hidden.json", "later.json.tmp", "rejected"]);
  });

  it("ingests a file once even if it reappears after being spooled (crash before unlink)", async () => {
    const { sink, relay } = await setup({});
    const pickup = path.join(relay.dir, "data/pickup");
    const content = JSON.stringify({ title: "once", content: "<p>x</p>", receiver: "once@example.com" });
    fs.writeFileSync(path.join(pickup, "once.json"), content);
    await sink.waitForMessages(1);
    await waitFor(() => !fs.existsSync(path.join(pickup, "once.json")), 5_000, "the file to be removed");
    fs.writeFileSync(path.join(pickup, "once.json"), content);
    await waitFor(() => !fs.existsSync(path.join(pickup, "once.json")), 5_000, "the duplicate to be removed");
    expect(sink.messages).toHaveLength(1);
  });
});

describe("pause", () => {
  it("keeps accepting while paused, delivers on resume, and the pause survives a restart", async () => {
    const { sink, relay } = await setup({});
    expect((await fetch(`${relay.url}/admin/pause`, { method: "POST" })).status).toBe(200);
    const id = await send(relay, "p@example.com");
    const health = await (await fetch(`${relay.url}/health`)).json();
    expect(health.status).toBe("degraded");
    await relay.stop();
    relays.pop();
    const restarted = await start(sink, [], relay.dir);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await restarted.waitForState(id, ["queued"])).state).toBe("queued");
    expect(sink.messages).toHaveLength(0);
    expect((await fetch(`${restarted.url}/admin/resume`, { method: "POST" })).status).toBe(200);
    await restarted.waitForState(id, ["sent"]);
    expect(sink.messages).toHaveLength(1);
  });
});

describe("admin access", () => {
  it("refuses the admin API to a client outside admin.allow", async () => {
    const dir = tmpDir();
    const relay = await startInProcess(
      ['server:\n  allow: ["127.0.0.0/8"]', 'admin:\n  allow: ["10.0.0.0/8"]'].join("\n"),
      {},
      dir,
    );
    relays.push(relay);
    expect((await fetch(`${relay.url}/admin/pause`, { method: "POST" })).status).toBe(403);
  });
});
