// Batch pickup files against the real server code (in process, pickup scans driven by the
// test): the CLI's read-only pre-check (operator-plan.ts verdictOf, what `replay` and
// `cancel` run before writing) gives the very verdict the server then gives, for generated
// mails in every state and every kind of request; a batch ingested again after a crash
// does only what is missing; a reused name with other bytes is refused whole.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { verdictOf } from "../../src/cli/operator-plan.js";
import { createLogger } from "../../src/log.js";
import type { BatchResult } from "../../src/pickup/batch-results.js";
import { writePickupFile } from "../../src/pickup/pickup-file.js";
import type { ActionRequest } from "../../src/pickup/pickup-action.js";
import { Spool } from "../../src/spool/spool.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { mailShape, pauseDelivery, writeSpool, type MailShape } from "../helpers/spool-states.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const relays: InProcessRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

/** A relay on a spool of these mails, delivery paused, pickup scanned only when the test says. */
async function relayOn(shapes: MailShape[]): Promise<{ relay: InProcessRelay; ids: string[] }> {
  const dir = tmpDir();
  const ids = writeSpool(dir, shapes);
  pauseDelivery(dir);
  const relay = await startInProcess("", { pickupIntervalMs: 3_600_000 }, dir);
  relays.push(relay);
  return { relay, ids };
}

/** A scan that starts after now: scan() joins one in flight, whose listing may predate the file. */
async function scanNow(relay: InProcessRelay): Promise<void> {
  await relay.pickup.scan();
  await relay.pickup.scan();
}

const asJson = (r: ActionRequest) =>
  r.kind === "cancel" ? { cancel: r.id } : { replay: r.id, ...(r.recipients ? { recipients: r.recipients } : {}) };

async function ingest(relay: InProcessRelay, requests: ActionRequest[], name = "batch"): Promise<BatchResult> {
  const pickup = relay.spool.paths.pickup;
  const file = writePickupFile(pickup, name, { requests: requests.map(asJson) });
  await scanNow(relay);
  expect(fs.existsSync(path.join(pickup, file))).toBe(false);
  return JSON.parse(fs.readFileSync(path.join(pickup, "done", file), "utf8"));
}

/** What to ask of mail i: nothing, a replay (to everyone unsent, to some in another spelling, to a stranger) or a cancel. */
const requestKind = fc.constantFrom("none", "replay", "replay-named", "replay-stranger", "cancel");
const unknownId = "01M8ZZZZZZZZZZZZZZZZZZZZZZ";

function requestFor(kind: string, id: string, shape: MailShape, pick: number): ActionRequest | null {
  const some = shape.recipients
    .filter((_, i) => (pick >> i) & 1)
    .map((r) => r.address.replace("example.com", "EXAMPLE.com"));
  switch (kind) {
    case "replay":
      return { kind: "replay", id };
    case "replay-named":
      return { kind: "replay", id, recipients: some.length ? some : [shape.recipients[0]!.address] };
    case "replay-stranger":
      return { kind: "replay", id, recipients: [...some, "stranger@example.com"] };
    case "cancel":
      return { kind: "cancel", id };
    default:
      return null;
  }
}

describe("batch pickup files", () => {
  it("the CLI's pre-check verdict is the server's verdict, for mails in any state and any request", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(mailShape, requestKind, fc.nat(7)), { minLength: 1, maxLength: 8 }),
        fc.constantFrom<ActionRequest["kind"] | null>(null, "replay", "cancel"),
        async (mails, unknown) => {
          const { relay, ids } = await relayOn(mails.map(([shape]) => shape));
          const requests = mails
            .map(([shape, kind, pick], i) => requestFor(kind, ids[i]!, shape, pick))
            .filter((r): r is ActionRequest => r !== null);
          if (unknown) requests.push({ kind: unknown, id: unknownId });
          fc.pre(requests.length > 0);
          const reader = Spool.read({ dataDir: relay.spool.paths.data, log: createLogger("silent") });
          const expected = requests.map((r) => ({ id: r.id, action: r.kind, ...verdictOf(reader.index, r) }));
          const result = await ingest(relay, requests);
          expect(result.results).toEqual(expected);
          await relay.stop();
          relays.splice(relays.indexOf(relay), 1);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("after a crash between spooling and removing it, the same file does only what is missing", async () => {
    const shapes: MailShape[] = Array.from({ length: 3 }, () => ({
      recipients: [{ address: "a@example.com", outcome: "deferred" }],
      stage: "final",
    }));
    const { relay, ids } = await relayOn(shapes);
    const requests: ActionRequest[] = ids.map((id) => ({ kind: "replay", id }));
    const pickup = relay.spool.paths.pickup;
    const first = await ingest(relay, requests, "again");
    expect(first.results.map((r) => r.outcome)).toEqual(["replayed", "replayed", "replayed"]);
    // the very bytes come back under the very name, as if the unlink had not happened
    const name = first.file;
    fs.writeFileSync(path.join(pickup, name), `${JSON.stringify({ requests: requests.map(asJson) })}\n`);
    await scanNow(relay);
    const second: BatchResult = JSON.parse(fs.readFileSync(path.join(pickup, "done", name), "utf8"));
    expect(second.results.map((r) => r.outcome)).toEqual(["done-before", "done-before", "done-before"]);
    for (const id of ids) expect(relay.records(id).filter((r) => r.type === "replay")).toHaveLength(1);
    expect(relay.records(ids[0]!).find((r) => r.type === "replay").idempotencyKey).toBe(`pickup:${name}#0`);
  });

  it("refuses a batch file under a name used within a day for other bytes, doing none of it", async () => {
    const { relay, ids } = await relayOn([
      { recipients: [{ address: "a@example.com", outcome: "deferred" }], stage: "final" },
      { recipients: [{ address: "b@example.com", outcome: "deferred" }], stage: "final" },
    ]);
    const pickup = relay.spool.paths.pickup;
    const { file } = await ingest(relay, [{ kind: "replay", id: ids[0]! }], "reused");
    fs.writeFileSync(path.join(pickup, file), JSON.stringify({ requests: [{ replay: ids[1] }] }));
    await scanNow(relay);
    const reason = await waitFor(
      () =>
        fs.existsSync(path.join(pickup, "rejected", `${file}.reason.txt`)) &&
        fs.readFileSync(path.join(pickup, "rejected", `${file}.reason.txt`), "utf8"),
      5_000,
      "the rejection",
    );
    expect(reason).toContain("the name was already used for a batch file with other content");
    expect(relay.records(ids[1]!).filter((r) => r.type === "replay")).toHaveLength(0);
  });
});
