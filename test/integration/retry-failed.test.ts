// POST /admin/retry-failed answers per mail what happened: requeued with the recipients it
// will go to, or why not (unknown id, being sent, cancelled, not in the failed spool,
// filtered out), keeping `count` and `ids` (the requeued ones). A real SMTP sink makes the
// failed, partial, sent and in-flight mails; generated id lists are checked against a model.
import fc from "fast-check";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";

let sink: SmtpSink;
let relay: InProcessRelay;
const rejected = new Set(["bad@example.com", "bad2@example.com", "other@example.com"]);
const mails = {} as Record<"failed" | "failed2" | "partial" | "sent" | "cancelled" | "sending", string>;

async function send(receiver: string) {
  const form = new URLSearchParams({ title: "retry", content: "<p>x</p>", receiver }).toString();
  const answer = await post(relay.url, form, { "content-type": "application/x-www-form-urlencoded" });
  expect(answer.status).toBe(200);
  return answer.body.data.id as string;
}

async function retry(body: unknown) {
  const response = await fetch(`${relay.url}/admin/retry-failed`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  expect(response.status).toBe(200);
  return (await response.json()).data;
}

beforeAll(async () => {
  sink = await startSmtpSink({
    onRcpt: (address) => (rejected.has(address) ? { code: 550, message: "no such user" } : undefined),
    onData: (message) => (message.to.includes("hang@example.com") ? "hang" : undefined),
  });
  relay = await startInProcess(
    [
      "shutdown:",
      "  graceSeconds: 1",
      deliveryYaml(sink.port, ["  retry: { attempts: 1, baseSeconds: 1, maxSeconds: 1 }"]),
    ].join("\n"),
  );
  mails.failed = await send("bad@example.com");
  mails.failed2 = await send("bad2@example.com");
  mails.partial = await send("ok@example.com,other@example.com");
  mails.sent = await send("fine@example.com");
  mails.cancelled = await send("other@example.com");
  mails.sending = await send("hang@example.com");
  await relay.waitForState(mails.failed, ["failed"]);
  await relay.waitForState(mails.failed2, ["failed"]);
  await relay.waitForState(mails.partial, ["partial"]);
  await relay.waitForState(mails.sent, ["sent"]);
  await relay.waitForState(mails.cancelled, ["failed"]);
  expect((await fetch(`${relay.url}/admin/cancel/${mails.cancelled}`, { method: "POST" })).status).toBe(200);
  await relay.waitForState(mails.sending, ["sending"]);
});
afterAll(async () => {
  await relay.stop();
  await sink.close();
});

const refusal = (reason: string, message: string | RegExp) => ({
  requeued: false,
  reason,
  message: typeof message === "string" ? message : expect.stringMatching(message),
});

describe("POST /admin/retry-failed with ids", () => {
  it("says per id what happened, in the order given, and requeues only mails in the failed spool", async () => {
    const unknown = ulid();
    const answer = await retry({
      ids: [mails.sent, unknown, mails.partial, mails.partial, mails.cancelled, mails.sending, mails.failed2],
      state: "failed",
      includePermanent: true,
    });
    expect(answer.results).toEqual([
      { id: mails.sent, ...refusal("not_failed", "mail is sent, not in the failed spool") },
      { id: unknown, ...refusal("unknown_id", /^no such mail/) },
      { id: mails.partial, ...refusal("filtered_out", "mail is partial, not failed (the state filter)") },
      { id: mails.cancelled, ...refusal("cancelled", "mail is cancelled, which is final") },
      { id: mails.sending, ...refusal("being_sent", "mail is being sent right now") },
      { id: mails.failed2, requeued: true, recipients: ["bad2@example.com"] },
    ]);
    expect(answer).toMatchObject({ count: 1, ids: [mails.failed2] });
    // requeued for real: it is attempted again (and fails again at the sink)
    await relay.waitForState(mails.failed2, ["failed"]);
    expect(relay.records(mails.failed2).filter((r) => r.type === "attempt")).toHaveLength(2);
  });

  it("takes failed-transient recipients only, unless asked: all-permanent failures are answered, not re-sent", async () => {
    const answer = await retry({ ids: [mails.failed] });
    expect(answer.results).toEqual([
      { id: mails.failed, ...refusal("only_permanent", /bad@example\.com.*"includePermanent": true/) },
    ]);
    expect(answer).toMatchObject({ count: 0, ids: [] });
    const typo = await fetch(`${relay.url}/admin/retry-failed`, {
      method: "POST",
      body: JSON.stringify({ ids: [mails.failed], includePermanant: true }),
      headers: { "content-type": "application/json" },
    });
    expect(typo.status).toBe(400);
    expect(JSON.stringify((await typo.json()).data.errors)).toContain("includePermanant");
  });

  it("names the recipients a partial mail goes to (those not yet sent) and honours since", async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const tooOld = await retry({ ids: [mails.partial], since: later });
    expect(tooOld.results).toEqual([{ id: mails.partial, ...refusal("filtered_out", /before .* \(since\)$/) }]);
    expect(tooOld).toMatchObject({ count: 0, ids: [] });
    rejected.delete("other@example.com");
    const answer = await retry({ ids: [mails.partial], includePermanent: true });
    expect(answer.results).toEqual([{ id: mails.partial, requeued: true, recipients: ["other@example.com"] }]);
    await relay.waitForState(mails.partial, ["sent"]);
    rejected.add("other@example.com");
  });

  it("answers generated id lists as the model of the mails' states says", async () => {
    // only mails whose state a retry does not change: every answer is a refusal, so runs are independent
    const stable = new Map([
      [mails.sent, "not_failed"],
      [mails.cancelled, "cancelled"],
      [mails.sending, "being_sent"],
    ]);
    const id = fc.oneof(fc.constantFrom(...stable.keys()), fc.constant(ulid()), fc.string({ maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(fc.array(id, { maxLength: 12 }), async (ids) => {
        const answer = await retry({ ids });
        expect(answer.results.map((r: { id: string }) => r.id)).toEqual([...new Set(ids)]);
        for (const result of answer.results)
          expect(result).toMatchObject({ requeued: false, reason: stable.get(result.id) ?? "unknown_id" });
        expect(answer).toMatchObject({ count: 0, ids: [] });
      }),
      { numRuns: 60 },
    );
  });
});

describe("POST /admin/retry-failed without ids", () => {
  it("answers for every mail of the failed spool it chose, and count/ids as before", async () => {
    await relay.waitForState(mails.failed, ["failed"]);
    const answer = await retry({ includePermanent: true });
    expect(answer.results).toContainEqual({ id: mails.failed, requeued: true, recipients: ["bad@example.com"] });
    expect(answer.results.every((r: { requeued: boolean }) => r.requeued)).toBe(true);
    expect(answer.count).toBe(answer.results.length);
    expect(answer.ids).toEqual(answer.results.map((r: { id: string }) => r.id));
    expect(answer.ids).not.toContain(mails.cancelled);
    expect(answer.ids).not.toContain(mails.sent);
  });
});
