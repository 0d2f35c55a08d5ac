// The read commands on the real binary: refusing a directory with no spool (and creating
// nothing), `spool ls` (header only on a terminal, "showing N of M" when --limit cuts,
// --to / --subject with canonical spellings, filters before the limit) and the same
// recipient filter over HTTP on the running relay.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRecord } from "../../src/spool/record.js";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import { binaryPath, startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

/** Runs the binary under a pseudo-terminal (util-linux script): stdout and stderr are a TTY, merged. */
function runOnTerminal(args: string[], cwd: string): { code: number | null; output: string } {
  const quoted = [binaryPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const result = spawnSync("script", ["-qec", quoted, "/dev/null"], { cwd, encoding: "utf8", timeout: 20_000 });
  return { code: result.status, output: result.stdout.replace(/\r\n/g, "\n") };
}

const readCommands = [
  ["spool", "ls"],
  ["spool", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
  ["spool", "stat"],
  ["replay", "--failed"],
  ["replay", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
  ["cancel", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
  ["fsck"],
];

describe("run outside a data directory", () => {
  it.each(readCommands.map((args) => [args.join(" "), args]))("%s says there is no spool (exit 1)", (_, args) => {
    const dir = tmpDir();
    const result = runCli(args, dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no spool at ${path.join(fs.realpathSync(dir), "data")}`);
    expect(result.stderr).toContain("the embedded default ./data in the current directory");
    expect(result.stdout).toBe("");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("says how the directory was resolved: app.yaml's spool.dir, MAILSPOOL_DATA_DIR", () => {
    const dir = tmpDir();
    writeConfig(dir, "spool:\n  dir: ./elsewhere");
    const fromFile = runCli(["spool", "ls"], dir);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toContain(`spool.dir of ${path.join(fs.realpathSync(dir), "app.yaml")}`);
    const fromEnv = runCli(["replay", "--failed"], dir, { MAILSPOOL_DATA_DIR: path.join(dir, "nowhere") });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(/no spool at .*nowhere \(set by MAILSPOOL_DATA_DIR\)/);
    expect(fromEnv.stdout).not.toContain("written");
    expect(fs.readdirSync(dir)).toEqual(["app.yaml"]);
  });

  it("a data directory with only pickup/ (files nobody ingests) is no spool either", () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "data/pickup"), { recursive: true });
    expect(runCli(["cancel", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], dir).code).toBe(1);
    expect(fs.readdirSync(path.join(dir, "data/pickup"))).toEqual([]);
  });
});

describe("spool ls and GET /api/email?recipient= on a relay's spool", () => {
  const dir = tmpDir();
  let relay: RelayProcess;
  const sent: Record<string, string> = {};

  async function send(name: string, title: string, receiver: string): Promise<void> {
    const body = new URLSearchParams({ title, content: "<p>c</p>", receiver }).toString();
    const answer = await post(relay.url, body, { "content-type": "application/x-www-form-urlencoded" });
    expect(answer.status).toBe(200);
    sent[name] = answer.body.data.id;
  }

  beforeAll(async () => {
    relay = await startRelay({ cwd: dir });
    await send("anna1", "Invoice 1 for Anna", "anna@Bücher.DE");
    await send("bob", "Newsletter", "bob@example.com");
    await send("anna2", "INVOICE 2 for anna", "anna@xn--bcher-kva.de, bob@example.com");
    await send("carl", "Rechnung für März", "carl@example.com");
    await send("anna3", "Reminder", "ANNA@bücher.de");
    await waitFor(() => fs.readdirSync(path.join(dir, "data/outbox")).length === 5, 10_000, "5 .eml files");
  });
  afterAll(async () => {
    await relay.stop();
  });

  const lsIds = (args: string[]) => {
    const result = runCli(["spool", "ls", "--json", ...args], dir);
    expect(result.code, args.join(" ")).toBe(0);
    return result.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).id);
  };

  it("has a header row on a terminal only", () => {
    const terminal = runOnTerminal(["spool", "ls"], dir);
    expect(terminal.code).toBe(0);
    const lines = terminal.output.split("\n").filter((l) => !l.startsWith("mailspool:") && l);
    expect(lines[0]).toMatch(/^ID +STATE +ACCEPTED +RCPT +SUBJECT$/);
    expect(lines.slice(1)).toHaveLength(5);
    const piped = runCli(["spool", "ls"], dir);
    expect(piped.stdout.split("\n").filter(Boolean)).toHaveLength(5);
    expect(piped.stdout).not.toMatch(/SUBJECT/);
    const json = runOnTerminal(["spool", "ls", "--json"], dir);
    expect(json.output).not.toMatch(/SUBJECT/);
    expect(runOnTerminal(["spool", "ls", "--subject", "nothing like it"], dir).output).toContain("no mail matches");
  });

  it("says showing N of M when --limit cuts the list: on stderr, on a terminal and piped", () => {
    const piped = runCli(["spool", "ls", "--limit", "2"], dir);
    expect(piped.stdout.split("\n").filter(Boolean)).toHaveLength(2);
    expect(piped.stdout).not.toContain("showing");
    expect(piped.stderr).toContain("showing 2 of 5 mails");
    const json = runCli(["spool", "ls", "--json", "--limit", "3"], dir);
    expect(
      json.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).id),
    ).toHaveLength(3);
    expect(json.stderr).toContain("showing 3 of 5 mails");
    expect(runOnTerminal(["spool", "ls", "--limit", "4"], dir).output).toContain("showing 4 of 5 mails");
    expect(runCli(["spool", "ls", "--limit", "5"], dir).stderr).not.toContain("showing");
  });

  it("--to compares canonical addresses; --subject ignores case; both before the limit", () => {
    const annas = [sent.anna2, sent.anna1];
    for (const spelling of ["anna@bücher.de", "anna@BÜCHER.DE", '"anna"@xn--bcher-kva.de', "anna@XN--BCHER-KVA.de"])
      expect(lsIds(["--to", spelling]), spelling).toEqual(annas);
    expect(lsIds(["--to", "ANNA@bücher.de"])).toEqual([sent.anna3]);
    expect(lsIds(["--to", "bob@EXAMPLE.com"])).toEqual([sent.anna2, sent.bob]);
    expect(lsIds(["--subject", "invoice"])).toEqual(annas);
    expect(lsIds(["--subject", "MÄRZ"])).toEqual([sent.carl]);
    expect(lsIds(["--to", "anna@bücher.de", "--subject", "Invoice 1"])).toEqual([sent.anna1]);
    const cut = runCli(["spool", "ls", "--to", "anna@bücher.de", "--limit", "1"], dir);
    expect(cut.stdout).toContain(sent.anna2);
    expect(cut.stderr).toContain("showing 1 of 2 mails");
  });

  it("--to refuses what is not an address (usage error naming it)", () => {
    for (const value of ["anna", "anna@", "anna@bücher"]) {
      const result = runCli(["spool", "ls", "--to", value], dir);
      expect(result.code, value).toBe(2);
      expect(result.stderr, value).toMatch(/error: option '--to <address>' argument .* is invalid/);
    }
  });

  it("GET /api/email?recipient= on the running relay finds the same mails", async () => {
    const answer = await get(relay.url, `/api/email?recipient=${encodeURIComponent("anna@BÜCHER.de")}`);
    expect(answer.status).toBe(200);
    expect(answer.body.data.items.map((m: { id: string }) => m.id)).toEqual([sent.anna2, sent.anna1]);
    const bad = await get(relay.url, "/api/email?recipient=anna");
    expect(bad.status).toBe(400);
    expect(bad.body.data.errors[0].field).toBe("recipient");
  });

  it("leaves a clean data directory behind (fsck)", () => {
    expect(runCli(["fsck"], dir).code).toBe(0);
  });
});

describe("output into a pipe", () => {
  it("a slow reader gets every line of a long listing, and one that leaves early ends it quietly", async () => {
    const dir = tmpDir();
    const spoolDir = path.join(dir, "data/spool");
    fs.mkdirSync(spoolDir, { recursive: true });
    const count = 3000; // ~500 KiB of JSON lines: many times a pipe's buffer
    const lines = Array.from({ length: count }, (_, i) => {
      const id = `01ARZ3NDEKTSV4RRFF${String(i).padStart(8, "0")}`;
      const mail = {
        subject: `mail ${i}`,
        html: "<p>x</p>",
        to: [{ address: `r${i}@example.com` }],
        cc: [],
        bcc: [],
        attachments: [],
        messageId: `<${id}@example.com>`,
      };
      return encodeRecord({ v: 1, type: "accepted", id, ts: "2026-12-01T00:00:00.000Z", client: "test", mail });
    });
    fs.writeFileSync(path.join(spoolDir, "000001.jsonl"), lines.join(""));
    const child = spawn(binaryPath, ["spool", "ls", "--json", "--limit", "100000"], { cwd: dir });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the reader is slow: the pipe fills meanwhile
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(count);
    const early = spawnSync("sh", ["-c", `'${binaryPath}' spool ls --json --limit 100000 | head -1`], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(early.stdout.trim().split("\n")).toHaveLength(1);
    expect(early.stderr).not.toMatch(/EPIPE|Error/);
  });
});
