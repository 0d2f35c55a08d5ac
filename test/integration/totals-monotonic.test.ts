// The JSON totals (/metrics?format=json) and /health's total_emails_processed never
// decrease: generated sequences of sends, retries of the failed spool, replays, cancels,
// an upstream that starts or stops refusing, restarts and archiving (with the compactor's
// clock moved past a day, or past retention so archive files are deleted too) run against
// an in-process relay with small segments, so mails straddle segments. After every step
// each total is at least what it was, total_emails and total_recipients equal what was
// sent, and at the end fsck finds the data directory clean.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { compactSpool } from "../../src/spool/compact.js";
import { runCli } from "../helpers/cli.js";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const day = 86_400_000;
const log = createLogger("silent");
const addresses = ["ok@example.com", "bad@example.com", "soft@example.com"];
let sink: SmtpSink;
let refusing: Record<string, number> = {};
beforeAll(async () => {
  sink = await startSmtpSink({
    onRcpt: (address) => (refusing[address] ? { code: refusing[address]!, message: "refused" } : undefined),
  });
});
afterAll(async () => {
  await sink.close();
});

type Step =
  | { op: "send"; to: string[] }
  | { op: "retryFailed" }
  | { op: "replay"; pick: number; to: string }
  | { op: "cancel"; pick: number }
  | { op: "upstream"; refuse: boolean }
  | { op: "restart" }
  | { op: "archive"; days: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant("send" as const), to: fc.subarray(addresses, { minLength: 1 }) }),
  },
  fc.record({ op: fc.constant("retryFailed" as const) }),
  fc.record({ op: fc.constant("replay" as const), pick: fc.nat(), to: fc.constantFrom(...addresses) }),
  fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }),
  fc.record({ op: fc.constant("upstream" as const), refuse: fc.boolean() }),
  fc.record({ op: fc.constant("restart" as const) }),
  fc.record({ op: fc.constant("archive" as const), days: fc.constantFrom(2, 40) }),
);

const config = () =>
  [
    "spool:",
    "  segmentMaxBytes: 4096",
    "  retentionDays: 30",
    deliveryYaml(sink.port, ["  retry: { attempts: 1, baseSeconds: 1, maxSeconds: 1 }"]),
  ].join("\n");

let archivedSegments = 0;
const counted = ["total_emails", "successful_emails", "failed_emails", "total_recipients"] as const;

type Totals = Record<(typeof counted)[number] | "total_emails_processed", number>;

async function totals(relay: InProcessRelay): Promise<Totals> {
  const json = await (await fetch(`${relay.url}/metrics?format=json`)).json();
  const health = await (await fetch(`${relay.url}/health`)).json();
  return { ...json, total_emails_processed: health.details.total_emails_processed };
}

/** Until nothing is queued or in flight: every attempt of the step has been recorded. */
const settled = (relay: InProcessRelay) =>
  waitFor(() => relay.spool.index.undelivered().length === 0 && relay.delivery.inFlight === 0, 10_000, "delivery");

async function run(relay: InProcessRelay, s: Step, ids: string[]): Promise<InProcessRelay> {
  const pick = (n: number) => ids[n % ids.length]!;
  if (s.op === "send") {
    const form = new URLSearchParams({ title: "t", content: "<p>x</p>", receiver: s.to.join(",") }).toString();
    const answer = await post(relay.url, form, { "content-type": "application/x-www-form-urlencoded" });
    expect(answer.status).toBe(200);
    ids.push(answer.body.data.id);
  } else if (s.op === "retryFailed") {
    expect((await fetch(`${relay.url}/admin/retry-failed`, { method: "POST" })).status).toBe(200);
  } else if (s.op === "replay" && ids.length) {
    await relay.delivery.replay(pick(s.pick), { recipients: [s.to], reason: "test" }).catch(() => undefined);
  } else if (s.op === "cancel" && ids.length) {
    await fetch(`${relay.url}/admin/cancel/${pick(s.pick)}`, { method: "POST" });
  } else if (s.op === "upstream") {
    refusing = s.refuse ? { "bad@example.com": 550, "soft@example.com": 451 } : {};
  } else if (s.op === "restart") {
    await relay.stop();
    return startInProcess(config(), {}, relay.dir);
  } else if (s.op === "archive") {
    const result = await compactSpool(relay.spool, { retentionDays: 30, log, now: () => Date.now() + s.days * day });
    archivedSegments += result.archivedSegments;
  }
  return relay;
}

describe("totals", () => {
  it("never decrease across retry, replay, cancel, restart and archiving", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        refusing = { "bad@example.com": 550, "soft@example.com": 451 };
        let relay = await startInProcess(config(), {}, tmpDir());
        const ids: string[] = [];
        let recipients = 0;
        let before = await totals(relay);
        try {
          for (const s of steps) {
            relay = await run(relay, s, ids);
            if (s.op === "send") recipients += s.to.length;
            await settled(relay);
            const after = await totals(relay);
            for (const key of [...counted, "total_emails_processed"] as const)
              expect(after[key], `${key} after ${JSON.stringify(s)}`).toBeGreaterThanOrEqual(before[key]);
            expect(after.total_emails).toBe(ids.length);
            expect(after.total_recipients).toBe(recipients);
            expect(after.successful_emails + after.failed_emails).toBeGreaterThanOrEqual(after.total_emails_processed);
            before = after;
          }
        } finally {
          await relay.stop();
        }
        const fsck = runCli(["fsck", "-c", "app.yaml"], relay.dir);
        expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
      }),
      {
        numRuns: 12,
        // always among the runs: mails spread over several segments, a failed one retried after a
        // restart, archiving past a day and past retention, then another restart
        examples: [
          [
            [
              ...Array.from({ length: 6 }, (_, i): Step => ({ op: "send", to: addresses.slice(0, 1 + (i % 3)) })),
              { op: "restart" },
              { op: "archive", days: 2 },
              { op: "upstream", refuse: false },
              { op: "retryFailed" },
              { op: "replay", pick: 0, to: "ok@example.com" },
              { op: "archive", days: 40 },
              { op: "restart" },
            ],
          ],
        ],
      },
    );
    expect(archivedSegments).toBeGreaterThan(0);
  });
});
