// `mailspool replay` and `cancel` (the real binary) never mislead: what the spool already
// tells is refused before anything is written (exit 1), a wrong combination of options is a
// usage error (exit 2, with the usage line), and while a server runs the command waits for its
// verdict on each file and prints it — ingested, refused, rejected, timed out, server gone —
// or says plainly that it did not wait (--no-wait) or that no server runs.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, runCliAsync } from "../helpers/cli.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startRelay, type RelayProcess } from "../helpers/server-process.js";
import { pauseDelivery, writeSpool, type MailShape } from "../helpers/spool-states.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});

const sent: MailShape = { recipients: [{ address: "a@example.com", outcome: "sent" }], stage: "final" };
const cancelled: MailShape = {
  recipients: [{ address: "a@example.com", outcome: "deferred" }],
  stage: "deferred",
  cancelled: true,
};
const partial: MailShape = {
  recipients: [
    { address: "ok@example.com", outcome: "sent" },
    { address: "soft@example.com", outcome: "deferred" },
    { address: "hard@example.com", outcome: "failed-permanent" },
  ],
  stage: "final",
};
const deferred: MailShape = { recipients: [{ address: "d@example.com", outcome: "deferred" }], stage: "deferred" };
const quoted: MailShape = { recipients: [{ address: '"a,b"@example.com', outcome: "deferred" }], stage: "final" };

/** A data directory holding these mails (delivery paused, so replays stay visible as records). */
function spoolWith(shapes: MailShape[]): { dir: string; ids: string[] } {
  const dir = tmpDir();
  const ids = writeSpool(dir, shapes);
  pauseDelivery(dir);
  return { dir, ids };
}

const pickupFiles = (dir: string): string[] => {
  const pickup = path.join(dir, "data/pickup");
  return fs.existsSync(pickup) ? fs.readdirSync(pickup).filter((n) => n.endsWith(".json")) : [];
};

const spoolRecords = (dir: string, id: string): { type: string; recipients?: string[] }[] =>
  fs
    .readdirSync(path.join(dir, "data/spool"))
    .flatMap((f) => fs.readFileSync(path.join(dir, "data/spool", f), "utf8").split("\n"))
    .filter((l) => l.includes(`"id":"${id}"`))
    .map((l) => JSON.parse(l));

async function binaryServer(dir: string): Promise<RelayProcess> {
  const relay = await startRelay({ cwd: dir });
  cleanup.push(() => relay.stop());
  return relay;
}

/** The real server code in this process, its pickup directory scanned only when the test says. */
async function manualServer(dir: string): Promise<InProcessRelay> {
  const relay = await startInProcess("", { pickupIntervalMs: 3_600_000 }, dir);
  cleanup.push(() => relay.stop());
  return relay;
}

async function scanNow(relay: InProcessRelay): Promise<void> {
  await relay.pickup.scan(); // joins a scan in flight, whose listing may predate the file
  await relay.pickup.scan();
}

/** A live process that holds data/lock but never ingests anything: a stuck server. */
function stuckServer(dir: string): ChildProcess {
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  cleanup.push(async () => sleeper.kill("SIGKILL"));
  fs.writeFileSync(path.join(dir, "data/lock"), `${sleeper.pid}\n`);
  return sleeper;
}

describe("checked against the spool before anything is written", () => {
  it("refuses what the server would refuse, with its reason, exit 1, and writes nothing", () => {
    const { dir, ids } = spoolWith([sent, cancelled, partial]);
    const [sentId, cancelledId, partialId] = ids as [string, string, string];
    const cases: [string[], string][] = [
      [["replay", sentId], `mail ${sentId} is sent: no recipient is left to send to`],
      [["replay", cancelledId], `mail ${cancelledId} is cancelled, which is final`],
      [
        ["replay", partialId, "--recipients", "stranger@example.com,soft@example.com"],
        `not recipients of ${partialId}: stranger@example.com`,
      ],
      [["cancel", sentId], `mail ${sentId} is sent and cannot be cancelled`],
      [["cancel", cancelledId], `mail ${cancelledId} is already cancelled; nothing to do`],
      [["replay", "01M8ZZZZZZZZZZZZZZZZZZZZZZ"], "no mail 01M8ZZZZZZZZZZZZZZZZZZZZZZ"],
      [["cancel", partialId, sentId], `cannot cancel ${sentId}: mail ${sentId} is sent`],
    ];
    for (const [args, reason] of cases) {
      const result = runCli(args, dir);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toContain(reason);
      expect(result.stderr).toMatch(/nothing written: \d of \d request\(s\) would be refused/);
      expect(result.stdout).toBe("");
    }
    expect(pickupFiles(dir)).toEqual([]);
  });

  it("compares --recipients in canonical form and keeps a comma inside a quoted local part", () => {
    const { dir, ids } = spoolWith([partial, quoted]);
    const [partialId, quotedId] = ids as [string, string];
    const named = runCli(["replay", partialId, "--recipients", "soft@EXAMPLE.com, hard@Example.COM", "--dry-run"], dir);
    expect(named.stdout).toContain(`would replay ${partialId} (partial) to soft@example.com, hard@example.com`);
    const comma = runCli(["replay", quotedId, "--recipients", '"a,b"@example.com', "--dry-run"], dir);
    expect(comma.code, comma.stderr).toBe(0);
    expect(comma.stdout).toContain(`would replay ${quotedId} (failed) to "a,b"@example.com`);
    expect(pickupFiles(dir)).toEqual([]);
  });
});

describe("usage errors", () => {
  it("say what is wrong and print the usage line, exit 2, writing nothing", () => {
    const { dir, ids } = spoolWith([partial]);
    const id = ids[0]!;
    const cases: [string[], string][] = [
      [["replay", "--failed", id], `--failed selects the whole failed spool and takes no mail ids (got ${id})`],
      [["replay"], "name mail ids, or select mails with --failed or --state deferred --now"],
      [["replay", "--state", "deferred"], "replay --state deferred needs --now"],
      [["replay", "--state", "failed", "--now"], "argument 'failed' is invalid. one of deferred"],
      [["replay", id, "--include-permanent"], "--include-permanent widens --failed"],
      [["replay", "--failed", "--recipients", "a@example.com"], "--recipients names recipients of mails given by id"],
      [["replay", id, "--since", "2h"], "--since and --to filter --failed or --state"],
      [["replay", id, "--now", "--recipients", "a@example.com"], "use one"],
      [["replay", id, "--wait", "soon"], "a positive number of seconds"],
      [["cancel"], "name mail ids, or select mails with --state"],
      [
        ["cancel", "--state", "sent"],
        "one of scheduled, queued, deferred, partial, failed (sent and cancelled mails are final)",
      ],
      [["cancel", id, "--state", "deferred"], "--state selects mails by state and takes no mail ids"],
      [["cancel", "--state", "deferred", "--to", "nobody"], "a mail address"],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args, dir);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toContain(message);
      expect(result.stderr, args.join(" ")).toContain(`Usage: mailspool ${args[0]} [options] [ids...]`);
    }
    expect(pickupFiles(dir)).toEqual([]);
  });
});

describe("the server's verdict", () => {
  it("waits for it and prints what was done to each mail; nothing is left behind", async () => {
    const { dir, ids } = spoolWith([partial, deferred]);
    const [partialId, deferredId] = ids as [string, string];
    await binaryServer(dir);
    const replay = runCli(["replay", partialId], dir);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("1 replay request(s) written to pickup/ (1 file(s)); waiting for the server (pid");
    expect(replay.stdout).toContain(`replayed ${partialId} to 2 recipients`);
    const cancel = runCli(["cancel", deferredId], dir);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`cancelled ${deferredId}`);
    expect(spoolRecords(dir, partialId).at(-1)).toMatchObject({
      type: "replay",
      recipients: ["soft@example.com", "hard@example.com"],
    });
    expect(spoolRecords(dir, deferredId).at(-1)).toMatchObject({ type: "cancel" });
    expect(pickupFiles(dir)).toEqual([]);
    expect(fs.readdirSync(path.join(dir, "data/pickup/done"))).toEqual([]);
  });

  it("prints the reason when the server refuses a request it checked later (the mail changed meanwhile)", async () => {
    const { dir, ids } = spoolWith([deferred]);
    const id = ids[0]!;
    const relay = await manualServer(dir);
    const running = runCliAsync(["replay", id], dir);
    await waitFor(() => pickupFiles(dir).length === 1, 10_000, "the replay file");
    expect((await fetch(`${relay.url}/admin/cancel/${id}`, { method: "POST" })).status).toBe(200);
    await scanNow(relay);
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refused replay of ${id}: mail ${id} is cancelled, which is final`);
  });

  it("prints the reason when the server rejects a file whole", async () => {
    const { dir, ids } = spoolWith([deferred]);
    const relay = await manualServer(dir);
    const running = runCliAsync(["cancel", ids[0]!], dir);
    const [name] = await waitFor(() => pickupFiles(dir).length === 1 && pickupFiles(dir), 10_000, "the cancel file");
    fs.writeFileSync(path.join(dir, "data/pickup", name!), '{"requests": [');
    await scanNow(relay);
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the server rejected pickup/${name} (1 request), moved to pickup/rejected/`);
    expect(result.stderr).toContain("malformed JSON");
  });

  it("says when no verdict came in time (exit 1), leaving the file for the server", () => {
    const { dir, ids } = spoolWith([deferred]);
    const stuck = stuckServer(dir);
    const started = Date.now();
    const result = runCli(["replay", ids[0]!, "--wait", "1"], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no verdict from the server (pid ${stuck.pid}) within 1 s on 1 file (1 request)`);
    expect(result.stderr).toContain("do not run the command again");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pickupFiles(dir)).toHaveLength(1);
  });

  it("says when the server stopped before its verdict (exit 1)", async () => {
    const { dir, ids } = spoolWith([deferred]);
    const stuck = stuckServer(dir);
    const running = runCliAsync(["cancel", ids[0]!], dir);
    await waitFor(() => pickupFiles(dir).length === 1, 10_000, "the cancel file");
    stuck.kill("SIGKILL");
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "stopped before ingesting 1 file (1 request): they wait in pickup/ for its next start",
    );
  });

  it("--no-wait hands the file over and says so (exit 0); the server still ingests it", async () => {
    const { dir, ids } = spoolWith([deferred]);
    await binaryServer(dir);
    const result = runCli(["cancel", ids[0]!, "--no-wait"], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`cancel ${ids[0]} (deferred)`);
    expect(result.stdout).toMatch(
      /the running server \(pid \d+\) ingests them within a second \(--no-wait: not waiting\)/,
    );
    await waitFor(() => spoolRecords(dir, ids[0]!).at(-1)?.type === "cancel", 10_000, "the cancel record");
  });

  it("with no server, says the files wait for its next start (exit 0), which then does them", async () => {
    const { dir, ids } = spoolWith([partial]);
    const result = runCli(["replay", ids[0]!], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`replay ${ids[0]} (partial) to soft@example.com, hard@example.com`);
    expect(result.stdout).toContain("no server is running: they wait in pickup/ for its next start");
    expect(pickupFiles(dir)).toHaveLength(1);
    await binaryServer(dir);
    await waitFor(() => spoolRecords(dir, ids[0]!).at(-1)?.type === "replay", 10_000, "the replay record");
    await waitFor(() => pickupFiles(dir).length === 0, 10_000, "the file to be ingested");
  });
});
