// Bulk operations of the real binary against a real server: selections by filter (`cancel
// --state S`, `replay --state deferred --now`, `replay --failed [--include-permanent]`, with
// --since and --to) whose --dry-run shows exactly what the real run then does; 20,000 replays
// batched and ingested in bounded time, each mail replayed once, fsck clean; progress drawn on
// a terminal only.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, runCliAsync, runCliOnTty } from "../helpers/cli.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { pauseDelivery, writeSpool, type MailShape } from "../helpers/spool-states.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});

async function binaryServer(dir: string): Promise<RelayProcess> {
  const relay = await startRelay({ cwd: dir });
  cleanup.push(() => relay.stop());
  return relay;
}

/** One recipient sent, one open (deferred), one failed for good. */
const sentSoftHard: MailShape["recipients"] = [
  { address: "ok@example.com", outcome: "sent" },
  { address: "soft@example.com", outcome: "deferred" },
  { address: "hard@example.com", outcome: "failed-permanent" },
];

const one = (address: string, outcome: MailShape["recipients"][0]["outcome"]) => [{ address, outcome }];

/** Every record of the data directory's live segments, by type. */
function recordsOfType(dir: string, type: string): { id: string; recipients?: string[] }[] {
  return fs
    .readdirSync(path.join(dir, "data/spool"))
    .flatMap((f) => fs.readFileSync(path.join(dir, "data/spool", f), "utf8").split("\n"))
    .filter((l) => l.includes(`"type":"${type}"`))
    .map((l) => JSON.parse(l));
}

/** The ids (and recipients) a dry run says it would act on. */
function wouldDo(stdout: string): Map<string, string> {
  const lines = [...stdout.matchAll(/^would (?:replay|cancel) (\S+) \(\w+\)(?: to (.*))?$/gm)];
  return new Map(lines.map((m) => [m[1]!, m[2] ?? ""]));
}

describe("bulk by filter", () => {
  it("cancel --state deferred [--since] [--to]: the dry run lists exactly what the real run cancels", async () => {
    const dir = tmpDir();
    const ids = writeSpool(dir, [
      { recipients: one("a@example.com", "deferred"), stage: "deferred" },
      { recipients: one("b@example.com", "deferred"), stage: "deferred" },
      { recipients: one("b@example.com", "deferred"), stage: "deferred", ageMs: 3 * 3600_000 },
      { recipients: one("b@example.com", "sent"), stage: "final" },
      { recipients: one("b@example.com", "deferred"), stage: "queued" },
      { recipients: one("b@example.com", "deferred"), stage: "final" },
    ]);
    pauseDelivery(dir);
    const [recentA, recentB, oldB] = ids as [string, string, string];
    const all = runCli(["cancel", "--state", "deferred", "--dry-run"], dir);
    expect([...wouldDo(all.stdout).keys()].sort()).toEqual([recentA, recentB, oldB].sort());
    expect(all.stdout).toContain("dry run: would cancel 3 mails; nothing written");
    const recent = runCli(["cancel", "--state", "deferred", "--since", "2h", "--dry-run"], dir);
    expect([...wouldDo(recent.stdout).keys()].sort()).toEqual([recentA, recentB].sort());
    const narrow = ["cancel", "--state", "deferred", "--since", "2h", "--to", "b@EXAMPLE.com"];
    const dry = runCli([...narrow, "--dry-run"], dir);
    expect([...wouldDo(dry.stdout).keys()]).toEqual([recentB]);
    expect(fs.existsSync(path.join(dir, "data/pickup"))).toBe(false);

    await binaryServer(dir);
    const real = runCli(narrow, dir);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain("cancelled 1 mail");
    expect(recordsOfType(dir, "cancel").map((r) => r.id)).toEqual([recentB]);
    const none = runCli(["cancel", "--state", "deferred", "--to", "nobody@example.com"], dir);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("nothing to cancel: no mail matches");
  });

  it("replay --state deferred --now retries the open recipients now and keeps the others' states", async () => {
    const sink: SmtpSink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const dir = tmpDir();
    writeConfig(dir, deliveryYaml(sink.port, ["  from: relay@example.org"]));
    // both deferred until tomorrow (writeSpool's nextAttemptAt), one with a sent and a failed-permanent recipient
    const [mixed, plain, failed] = writeSpool(dir, [
      { recipients: sentSoftHard, stage: "deferred" },
      { recipients: one("x@example.com", "deferred"), stage: "deferred" },
      { recipients: one("f@example.com", "deferred"), stage: "final" },
    ]) as [string, string, string];
    const dry = runCli(["replay", "--state", "deferred", "--now", "--dry-run"], dir);
    expect(wouldDo(dry.stdout)).toEqual(
      new Map([
        [mixed, "soft@example.com"],
        [plain, "x@example.com"],
      ]),
    );
    const relay = await binaryServer(dir);
    const real = runCli(["replay", "--state", "deferred", "--now"], dir);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain("replayed 2 mails to 2 recipients");
    await sink.waitForMessages(2);
    expect(sink.messages.flatMap((m) => m.to).sort()).toEqual(["soft@example.com", "x@example.com"]);
    const status = await waitFor(async () => {
      const answer = await (await fetch(`${relay.url}/api/email/${mixed}`)).json();
      return answer.data.state === "partial" && answer.data;
    });
    expect(
      Object.fromEntries(status.recipients.map((r: { address: string; state: string }) => [r.address, r.state])),
    ).toEqual({ "ok@example.com": "sent", "soft@example.com": "sent", "hard@example.com": "failed-permanent" });
    expect(recordsOfType(dir, "replay").map((r) => r.id)).not.toContain(failed);
  });

  it("replay --failed takes failed-transient recipients, --include-permanent the permanent ones too; the dry run is the run", async () => {
    const dir = tmpDir();
    const [partial, permanentOnly, transient] = writeSpool(dir, [
      { recipients: sentSoftHard, stage: "final" },
      { recipients: one("hard2@example.com", "failed-permanent"), stage: "final" },
      { recipients: one("soft2@example.com", "deferred"), stage: "final" },
    ]) as [string, string, string];
    pauseDelivery(dir);
    const dry = runCli(["replay", "--failed", "--dry-run"], dir);
    expect(wouldDo(dry.stdout)).toEqual(
      new Map([
        [partial, "soft@example.com"],
        [transient, "soft2@example.com"],
      ]),
    );
    expect(dry.stdout).toContain(
      `skip ${permanentOnly} (failed): has only permanently failed recipients (hard2@example.com); --include-permanent takes them too`,
    );
    const wide = runCli(["replay", "--failed", "--include-permanent", "--dry-run"], dir);
    expect(wouldDo(wide.stdout)).toEqual(
      new Map([
        [partial, "soft@example.com, hard@example.com"],
        [permanentOnly, "hard2@example.com"],
        [transient, "soft2@example.com"],
      ]),
    );
    await binaryServer(dir);
    const real = runCli(["replay", "--failed"], dir);
    expect(real.code, real.stderr).toBe(0);
    const replays = recordsOfType(dir, "replay");
    expect(new Map(replays.map((r) => [r.id, r.recipients!.join(", ")]))).toEqual(wouldDo(dry.stdout));
  });
});

describe("many mails", () => {
  it("replays 20,000 failed mails in batch files: bounded time, each mail once, nothing left, fsck clean", async () => {
    const dir = tmpDir();
    const count = 20_000;
    const ids = writeSpool(
      dir,
      Array.from({ length: count }, (_, i): MailShape => ({
        recipients: one(`r${i}@example.com`, "deferred"),
        stage: "final",
      })),
    );
    pauseDelivery(dir);
    const relay = await binaryServer(dir);
    const started = Date.now();
    const result = await runCliAsync(["replay", "--failed"], dir, {}, 120_000);
    const seconds = (Date.now() - started) / 1000;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${count} replay request(s) written to pickup/ (20 file(s))`);
    expect(result.stdout).toContain(`replayed ${count} mails to ${count} recipients`);
    expect(result.stdout.split("\n").length).toBeLessThan(10); // a summary, not 20,000 lines
    // the old one-file-per-mail path took minutes here; a generous bound, the figure is in npm run bench
    expect(seconds).toBeLessThan(60);
    const perMail = new Map<string, number>();
    for (const r of recordsOfType(dir, "replay")) perMail.set(r.id, (perMail.get(r.id) ?? 0) + 1);
    expect(perMail.size).toBe(count);
    expect([...perMail.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(perMail.keys())).toEqual(new Set(ids));
    expect(fs.readdirSync(path.join(dir, "data/pickup")).sort()).toEqual(["done"]);
    expect(fs.readdirSync(path.join(dir, "data/pickup/done"))).toEqual([]);
    expect(await relay.stop()).toBe(0);
    cleanup.pop();
    const fsck = runCli(["fsck"], dir);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
  }, 180_000);

  it("shows progress on a terminal and none when piped", async () => {
    const dir = tmpDir();
    writeSpool(
      dir,
      Array.from({ length: 3_000 }, (_, i): MailShape => ({
        recipients: one(`r${i}@example.com`, "deferred"),
        stage: "final",
      })),
    );
    pauseDelivery(dir);
    await binaryServer(dir);
    const onTty = runCliOnTty(["replay", "--failed"], dir);
    expect(onTty.code, onTty.output).toBe(0);
    expect(onTty.output).toMatch(/\r\x1b\[Kreplay: server verdicts \d+\/3000 \(\d+%\)/);
    expect(onTty.output).toContain("replayed 3000 mails to 3000 recipients");
    const piped = runCli(["cancel", "--state", "queued"], dir);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toContain("cancelled 3000 mails");
    expect(piped.stdout + piped.stderr).not.toContain("\r");
    expect(piped.stderr).not.toContain("server verdicts");

    const fsckTty = runCliOnTty(["fsck"], dir);
    expect(fsckTty.output).toMatch(/\r\x1b\[Kfsck: files checked \d+\/\d+/);
    const fsckPiped = runCli(["fsck"], dir);
    expect(fsckPiped.code).toBe(0);
    expect(fsckPiped.stderr).not.toContain("\r");
    expect(fsckPiped.stderr).not.toContain("files checked");
  }, 120_000);
});
