// The README's Templates section works as written: its shell block makes the example
// directory, its YAML is the config, its curl commands get the answers it prints (the 400
// word for word) and the mail it describes reaches a real SMTP upstream, and its preview
// command prints what it shows.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeExamples, runCurl, sections, shapeDifference } from "../helpers/readme-examples.js";
import { upstreamYaml } from "../helpers/relay-in-process.js";
import { binaryPath, repoRoot, startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const readme = path.join(repoRoot, "README.md");
const section = sections(fs.readFileSync(readme, "utf8")).get("Templates")!;
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```\n/g)].map(([, language, body]) => ({
  language: language!,
  body: body!,
}));
const shell = blocks.filter((b) => b.language === "sh" && !b.body.includes("curl "));

let sink: SmtpSink;
let relay: RelayProcess;
let dir: string;

beforeAll(async () => {
  sink = await startSmtpSink();
  dir = tmpDir();
  execFileSync("bash", ["-euc", shell[0]!.body], { cwd: dir });
  const yaml = blocks.find((b) => b.language === "yaml")!.body;
  writeConfig(dir, `${yaml}delivery:\n  upstreams:\n${upstreamYaml([{ name: "primary", port: sink.port }])}\n`);
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.close();
});

describe("README: Templates", () => {
  it("answers each curl command as printed, and Ann's mail arrives as described", async () => {
    const examples = readmeExamples(readme, ["Templates"]);
    expect(examples).toHaveLength(3);
    for (const example of examples) {
      const { status, body } = runCurl(example.command, relay.url, dir);
      const documented = example.answer as { code: number };
      expect(status, body).toBe(documented.code);
      const actual = JSON.parse(body);
      if (status === 200) expect(shapeDifference(documented, actual), body).toBe("");
      else expect(actual).toEqual(documented);
    }
    const message = await waitFor(
      () => sink.messages.find((m) => m.to.includes("ann@example.com")),
      10_000,
      "Ann's mail",
    );
    const mail = await simpleParser(message.raw);
    expect(mail.subject).toBe("Welcome to Acme, Ann <ann@example.com>");
    expect(mail.text).toContain("Welcome, Ann <ann@example.com>!");
    expect(mail.html).toContain("<h1>Welcome, Ann &lt;ann@example.com&gt;!</h1>");
  });

  it("previews with the command shown and prints what the README shows", () => {
    const preview = shell[1]!.body.replace(/^mailspool /m, `${binaryPath} `);
    const output = execFileSync("bash", ["-euc", preview], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(output).toBe(blocks.find((b) => b.language === "text")!.body);
  });
});
