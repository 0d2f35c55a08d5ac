// The executable's commands: serve on the embedded default, the lock, SIGTERM, the
// Node bundle, check-config, spool ls/show, recovery of a damaged segment, exit codes.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { sendAndWaitForEml, startRelay, writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

describe("serve", () => {
  it("starts with no config in an empty directory, writes data/outbox/*.eml, exits 0 on SIGTERM", async () => {
    const dir = tmpDir();
    const relay = await startRelay({ cwd: dir });
    const id = await sendAndWaitForEml(relay.url, dir, { title: "no config" });
    expect(fs.readFileSync(path.join(dir, "data/outbox", `${id}.eml`), "utf8")).toContain("Subject: no config");
    expect(fs.existsSync(path.join(dir, "data/lock"))).toBe(true);
    expect(await relay.stop()).toBe(0);
    expect(fs.existsSync(path.join(dir, "data/lock"))).toBe(false);
    expect(relay.output()).toContain("shutdown complete");
  });

  it("refuses a second serve on the same data directory", async () => {
    const dir = tmpDir();
    const relay = await startRelay({ cwd: dir });
    try {
      const second = runCli(["serve"], dir, { MAILSPOOL_LISTEN: "127.0.0.1:0" });
      expect(second.code).toBe(1);
      expect(second.stdout + second.stderr).toMatch(/another mailspool \(pid \d+\) holds/);
    } finally {
      await relay.stop();
    }
  });

  it("runs the bundle on Bun end to end", async () => {
    const dir = tmpDir();
    const relay = await startRelay({ cwd: dir, runtime: "bundle" });
    expect(relay.output()).toContain('"runtime":"bun"');
    await sendAndWaitForEml(relay.url, dir, { title: "on the bundle" });
    expect(await relay.stop()).toBe(0);
  });

  it("recovers a torn tail; a line damaged after it was indexed is named, found by fsck, and gone after --repair", async () => {
    const dir = tmpDir();
    const relay = await startRelay({ cwd: dir });
    const ids = [
      await sendAndWaitForEml(relay.url, dir, { title: "one" }),
      await sendAndWaitForEml(relay.url, dir, { title: "two" }),
      await sendAndWaitForEml(relay.url, dir, { title: "three" }),
    ];
    await relay.stop();
    const segment = path.join(dir, "data/spool/000001.jsonl");
    const lines = fs.readFileSync(segment, "utf8").split("\n");
    const target = lines.findIndex((l) => l.includes(`"id":"${ids[1]}"`) && l.includes('"type":"accepted"'));
    lines[target] = lines[target]!.replace("two", "twO");
    fs.writeFileSync(segment, `${lines.join("\n")}{"v":1,"type":"accepted","id":"torn`);
    const restarted = await startRelay({ cwd: dir });
    try {
      expect((await get(restarted.url, `/api/email/${ids[0]}`)).body.data.state).toBe("sent");
      expect((await get(restarted.url, `/api/email/${ids[2]}`)).body.data.state).toBe("sent");
      // start-up reads only what the index has not folded: the damage is met when the record is read
      const damaged = await get(restarted.url, `/api/email/${ids[1]}`);
      expect(damaged.status).toBe(500);
      expect(damaged.body.message).toMatch(/damaged on disk; mailspool fsck finds it/);
      expect(fs.readFileSync(segment, "utf8").endsWith("\n")).toBe(true);
      const quarantined = fs.readdirSync(path.join(dir, "data/corrupt"));
      expect(quarantined.some((n) => n.startsWith("000001.jsonl@") && !n.endsWith(".txt"))).toBe(true);
      expect(restarted.output()).toContain("truncated a torn last line");
      await sendAndWaitForEml(restarted.url, dir, { title: "after recovery" });
    } finally {
      expect(await restarted.stop()).toBe(0);
    }
    expect(runCli(["fsck"], dir).stdout).toMatch(/corrupt-line spool\/000001\.jsonl@\d+/);
    expect(runCli(["fsck", "--repair"], dir).code).toBe(0);
    const repaired = await startRelay({ cwd: dir });
    try {
      expect((await get(repaired.url, `/api/email/${ids[1]}`)).status).toBe(404);
      expect((await get(repaired.url, `/api/email/${ids[2]}`)).body.data.state).toBe("sent");
    } finally {
      expect(await repaired.stop()).toBe(0);
    }
  });
});

describe("commands", () => {
  it("check-config prints the effective config with secrets masked", () => {
    const dir = tmpDir();
    writeConfig(
      dir,
      ["server:", "  tokens:", '    - { name: crm, token: "${CRM_TOKEN}" }', "spool:", "  dir: ./spool-here"].join(
        "\n",
      ),
    );
    const result = runCli(["check-config", "-c", "app.yaml"], dir, { CRM_TOKEN: "very-secret-token-value" });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.server.tokens[0]).toEqual({ name: "crm", token: "***", scopes: ["send", "read"] });
    expect(printed.spool.dir).toBe(path.join(fs.realpathSync(dir), "spool-here"));
    expect(result.stdout + result.stderr).not.toContain("very-secret-token-value");
    expect(result.stderr).toContain("data directory");
  });

  it("check-config exits 1 naming the key of an invalid config", () => {
    const dir = tmpDir();
    writeConfig(dir, ["delivery:", "  workers: many"].join("\n"));
    const result = runCli(["check-config"], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("delivery.workers");
  });

  it("exits 1 when -c names a missing file and 2 on a usage error", () => {
    const dir = tmpDir();
    expect(runCli(["spool", "ls", "-c", "nope.yaml"], dir).code).toBe(1);
    expect(runCli(["spool", "ls", "--state", "bogus"], dir).code).toBe(2);
    expect(runCli(["spool", "ls", "--bogus"], dir).code).toBe(2);
  });

  it("--help works on every command", () => {
    const dir = tmpDir();
    for (const args of [
      ["--help"],
      ["serve", "--help"],
      ["spool", "--help"],
      ["spool", "ls", "--help"],
      ["spool", "show", "--help"],
      ["check-config", "--help"],
    ]) {
      const result = runCli(args, dir);
      expect(result.code, args.join(" ")).toBe(0);
      expect(result.stdout).toContain("Usage:");
    }
  });

  it("spool ls and spool show read the spool while the server runs and after it stopped", async () => {
    const dir = tmpDir();
    const relay = await startRelay({ cwd: dir });
    const first = await sendAndWaitForEml(relay.url, dir, { title: "first" });
    const second = await sendAndWaitForEml(relay.url, dir, { title: "second ✓" });
    const live = runCli(["spool", "ls", "--json"], dir);
    expect(live.code).toBe(0);
    expect(
      live.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).id),
    ).toEqual([second, first]);
    await relay.stop();
    const ls = runCli(["spool", "ls", "--state", "sent", "--since", "1h"], dir);
    expect(ls.stdout).toContain("second ✓");
    expect(runCli(["spool", "ls", "--state", "failed"], dir).stdout).toBe("");
    const show = runCli(["spool", "show", first], dir);
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown).toMatchObject({ id: first, state: "sent", mail: { subject: "first" } });
    expect(shown.attempts[0].transactions[0].code).toBe(250);
    const missing = runCli(["spool", "show", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no mail");
  });
});
