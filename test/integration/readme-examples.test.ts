// The README's curl examples (Quick start, HTTP API with the Admin API, Monitoring) run as
// written — with real curl, against the built executable — and each answer must have the
// keys and types the README prints after the command (an example without a printed answer
// must succeed). So README and server cannot drift apart. Mail ids: an id the README's
// send answer shows stands for the id the server gave; any other id the README uses
// stands for a mail in the failed spool, made for it (the sink refuses its recipient). The
// JavaScript (fetch, run by node) and Python (urllib) examples run too: each prints the id
// of a mail that then reaches the upstream.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeExamples, readmePrograms, runCurl, shapeDifference } from "../helpers/readme-examples.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { repoRoot, startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const examples = readmeExamples(path.join(repoRoot, "README.md"), [
  "Quick start",
  "HTTP API",
  "Monitoring and maintenance",
]);
const programs = readmePrograms(path.join(repoRoot, "README.md"), ["Quick start", "HTTP API"]);
const ulidPattern = /\b0[0-9A-HJKMNP-TV-Z]{25}\b/g;
const refused = "carl@example.com";

let sink: SmtpSink;
let relay: RelayProcess;
let dir: string;
const ids = new Map<string, string>();

beforeAll(async () => {
  sink = await startSmtpSink({
    onRcpt: (address) => (address === refused ? { code: 550, message: "no such user" } : undefined),
  });
  dir = tmpDir();
  writeConfig(dir, deliveryYaml(sink.port, [], "primary"));
  // the files the Quick start attaches
  fs.writeFileSync(path.join(dir, "report.pdf"), "%PDF-1.4\n%%EOF\n");
  fs.writeFileSync(path.join(dir, "data.csv"), "month,total\n11,42\n");
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.close();
});

async function health(): Promise<{ details: { queued_emails: number }; reasons: { code: string }[] }> {
  return (await fetch(`${relay.url}/health`)).json();
}

/** Waits until nothing is queued or in flight (unless delivery is paused), so answers are not mid-delivery. */
async function idle(): Promise<void> {
  await waitFor(
    async () => {
      const h = await health();
      return h.details.queued_emails === 0 || h.reasons.some((r) => r.code === "delivery_paused");
    },
    10_000,
    "an idle relay",
  );
}

/** A mail in the failed spool, for an id the README uses without having sent it. */
async function failedMail(): Promise<string> {
  const response = await fetch(`${relay.url}/api/email/send`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "for the README", content: "<p>x</p>", receiver: refused }),
  });
  const id = (await response.json()).data.id as string;
  await waitFor(
    async () => (await (await fetch(`${relay.url}/api/email/${id}`)).json()).data.state === "failed",
    10_000,
    "the failed mail",
  );
  return id;
}

describe("README examples against the executable", () => {
  it("finds the examples the README documents", () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
    expect(examples.filter((e) => e.answer !== undefined).length).toBeGreaterThanOrEqual(11);
  });

  it("answers each with the shape the README prints", async () => {
    for (const example of examples) {
      await idle();
      let command = example.command;
      for (const shown of new Set(command.match(ulidPattern) ?? [])) {
        if (!ids.has(shown)) ids.set(shown, await failedMail());
        command = command.replaceAll(shown, ids.get(shown)!);
      }
      const { status, body } = runCurl(command, relay.url, dir);
      const where = `${example.section}: ${example.command.split("\n")[0]}`;
      if (example.answer === undefined) {
        expect(status, `${where} → ${status} ${body}`).toBeLessThan(300);
        continue;
      }
      const documented = example.answer as { code?: number; data?: { id?: string } };
      expect(status, `${where} → ${body}`).toBe(documented.code ?? 200);
      const actual = JSON.parse(body);
      expect(shapeDifference(example.answer, actual), `${where}\nserver sent ${body}`).toBe("");
      const shownId = documented.data?.id;
      if (shownId && !ids.has(shownId) && example.command.includes("/api/email/send")) ids.set(shownId, actual.data.id);
    }
    // the examples did what they say: the Quick start mails reached the upstream
    expect(sink.messages.filter((m) => m.to.includes("ann@example.com")).length).toBe(3);
  });

  it("runs the JavaScript and Python examples: each mail reaches the upstream", async () => {
    expect(programs.map((p) => p.language).sort()).toEqual(["js", "python"]);
    for (const program of programs) {
      const code = program.code.replaceAll("http://127.0.0.1:8100", relay.url);
      const [command, args] =
        program.language === "js" ? ["node", ["--input-type=module", "-e", code]] : ["python3", ["-c", code]];
      const printed = execFileSync(command, args, { cwd: dir, encoding: "utf8", timeout: 15_000 }).trim();
      expect(printed, `${program.language} example printed`).toMatch(/^0[0-9A-HJKMNP-TV-Z]{25}$/);
      const receiver = /receiver"?: ?"([^"]+)"/.exec(program.code)![1]!;
      await waitFor(() => sink.messages.some((m) => m.to.includes(receiver)), 10_000, `the mail to ${receiver}`);
    }
  });
});
