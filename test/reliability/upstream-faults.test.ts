// Reliability 5 — upstream faults, as one table. Each row is a real SMTP sink with one
// misbehaviour (drop mid-DATA, 421 at connect, 4xx/5xx per recipient, 4xx/5xx after
// DATA, a hang longer than socketTimeoutSeconds; some only once) and its own in-process
// relay; every mail must end either delivered (exactly once per recipient) or in
// data/failed/failed.jsonl with each unsent recipient's lastError naming the cause.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { figure, messageIdOf, sized } from "../helpers/reliability.js";
import { startSmtpSink, type SinkBehaviour, type SmtpSink } from "../helpers/smtp-sink.js";
import { waitFor } from "../helpers/tmp-dir.js";

const perRow = sized(3, 20);

interface Row {
  name: string;
  behaviour: () => SinkBehaviour;
  socketTimeoutSeconds?: number;
  /** Every mail ends in this state. */
  state: "sent" | "partial" | "failed";
  /** For unsent recipients: their lastError in failed.jsonl must match. */
  cause?: RegExp;
  recipients?: string[];
}

/** Misbehaves the first time it sees each mail (by Message-ID), then accepts. */
function oncePerMail(decision: "drop" | "hang"): SinkBehaviour {
  const seen = new Set<string>();
  return {
    onData: (message) => {
      const id = messageIdOf(message.raw) ?? "";
      if (seen.has(id)) return undefined;
      seen.add(id);
      return decision;
    },
  };
}

const rows: Row[] = [
  { name: "accepts everything", behaviour: () => ({}), state: "sent" },
  {
    name: "drops the connection mid-DATA, always",
    behaviour: () => ({ onData: () => "drop" }),
    state: "failed",
    cause: /ECONNECTION|closed/i,
  },
  { name: "drops mid-DATA once per mail", behaviour: () => oncePerMail("drop"), state: "sent" },
  {
    name: "421 at connect, always",
    behaviour: () => ({ onConnect: () => ({ code: 421, message: "4.3.2 too busy" }) }),
    state: "failed",
    cause: /\b421\b/,
  },
  {
    name: "421 at connect, first 2 connections",
    behaviour: () => {
      let n = 0;
      return { onConnect: () => (n++ < 2 ? { code: 421, message: "4.3.2 too busy" } : undefined) };
    },
    state: "sent",
  },
  {
    name: "451 at RCPT for one recipient",
    behaviour: () => ({
      onRcpt: (a) => (a.startsWith("grey") ? { code: 451, message: "4.7.1 greylisted" } : undefined),
    }),
    state: "partial",
    cause: /\b451\b/,
    recipients: ["ok@example.com", "grey@example.com"],
  },
  {
    name: "550 at RCPT for one recipient",
    behaviour: () => ({
      onRcpt: (a) => (a.startsWith("gone") ? { code: 550, message: "5.1.1 no such user" } : undefined),
    }),
    state: "partial",
    cause: /\b550\b/,
    recipients: ["ok@example.com", "gone@example.com"],
  },
  {
    name: "550 at RCPT for every recipient",
    behaviour: () => ({ onRcpt: () => ({ code: 550, message: "5.1.1 no such user" }) }),
    state: "failed",
    cause: /\b550\b/,
  },
  {
    name: "451 after DATA, always",
    behaviour: () => ({ onData: () => ({ code: 451, message: "4.3.0 try later" }) }),
    state: "failed",
    cause: /\b451\b/,
  },
  {
    name: "554 after DATA",
    behaviour: () => ({ onData: () => ({ code: 554, message: "5.7.1 content rejected" }) }),
    state: "failed",
    cause: /\b554\b/,
  },
  {
    name: "hangs after DATA past socketTimeoutSeconds, always",
    behaviour: () => ({ onData: () => "hang" }),
    socketTimeoutSeconds: 1,
    state: "failed",
    cause: /ETIMEDOUT|timeout/i,
  },
  {
    name: "hangs after DATA once per mail",
    behaviour: () => oncePerMail("hang"),
    socketTimeoutSeconds: 1,
    state: "sent",
  },
];

interface RowResult {
  row: Row;
  ids: string[];
  delivered: number;
  inFailedSpool: number;
  /** In failed.jsonl with every unsent recipient's lastError naming the cause. */
  withCause: number;
  problems: string[];
  duplicates: number;
}

async function runRow(row: Row): Promise<RowResult> {
  const sink: SmtpSink = await startSmtpSink(row.behaviour());
  const problems: string[] = [];
  const relay: InProcessRelay = await startInProcess(
    deliveryYaml(sink.port, [
      "  from: relay@example.org",
      "  workers: 2",
      "  connectTimeoutSeconds: 2",
      `  socketTimeoutSeconds: ${row.socketTimeoutSeconds ?? 10}`,
      "  batch: { size: 20, delayMs: 10, continueOnError: true }",
      "  retry: { attempts: 2, baseSeconds: 0.05, maxSeconds: 0.2 }",
    ]),
  );
  const recipients = row.recipients ?? ["ann@example.com", "bob@example.com"];
  const ids: string[] = [];
  try {
    for (let i = 0; i < perRow; i += 1) {
      const answer = await post(
        relay.url,
        new URLSearchParams({
          title: `${row.name} #${i}`,
          content: "<p>fault table</p>",
          receiver: recipients.join(","),
        }).toString(),
        { "content-type": "application/x-www-form-urlencoded" },
      );
      expect(answer.status).toBe(200);
      ids.push(answer.body.data.id as string);
    }
    const finals = await Promise.all(
      ids.map((id) =>
        relay.waitForState(id, ["sent", "partial", "failed"], 60_000).catch(() => ({ id, state: "stuck" })),
      ),
    );
    const failedFile = path.join(relay.dir, "data/failed/failed.jsonl");
    const unsent = finals.filter((f) => f.state === "partial" || f.state === "failed").map((f) => f.id as string);
    const view = await waitFor(
      () => {
        if (!fs.existsSync(failedFile)) return unsent.length === 0 ? new Map<string, any>() : undefined;
        const lines = new Map<string, any>(
          fs
            .readFileSync(failedFile, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => [JSON.parse(l).id, JSON.parse(l)]),
        );
        return unsent.every((id) => lines.has(id)) ? lines : undefined;
      },
      10_000,
      "failed.jsonl to list every unsent mail",
    ).catch(() => new Map<string, any>());
    let delivered = 0;
    let inFailedSpool = 0;
    let withCause = 0;
    for (const f of finals) {
      if (f.state !== row.state) problems.push(`${f.id}: ended ${f.state}, expected ${row.state}`);
      if (f.state === "sent") delivered += 1;
      if (f.state !== "partial" && f.state !== "failed") continue;
      const line = view.get(f.id);
      if (!line) {
        problems.push(`${f.id}: ${f.state} but not in failed.jsonl`);
        continue;
      }
      inFailedSpool += 1;
      let causeNamed = true;
      for (const r of line.recipients as { address: string; state: string; lastError: string | null }[]) {
        if (r.state === "sent") continue;
        if (row.cause && row.cause.test(r.lastError ?? "")) continue;
        causeNamed = false;
        problems.push(
          `${f.id}: ${r.address} ${r.state} with lastError ${JSON.stringify(r.lastError)}, expected ${row.cause}`,
        );
      }
      if (causeNamed) withCause += 1;
    }
    // what reached the sink: each (mail, recipient) at most once, and every sent recipient once
    const perKey = new Map<string, number>();
    for (const m of sink.messages)
      for (const to of m.to)
        perKey.set(`${messageIdOf(m.raw)} ${to}`, (perKey.get(`${messageIdOf(m.raw)} ${to}`) ?? 0) + 1);
    const duplicates = [...perKey.values()].reduce((sum, n) => sum + n - 1, 0);
    for (const f of finals) {
      for (const r of (f.recipients ?? []) as { address: string; state: string }[]) {
        if (r.state === "sent" && !perKey.has(`${f.id} ${r.address}`))
          problems.push(`${f.id}: ${r.address} marked sent but never reached the sink`);
      }
    }
    return { row, ids, delivered, inFailedSpool, withCause, problems, duplicates };
  } finally {
    await relay.stop();
    await sink.close();
  }
}

it(
  `upstream faults: ${rows.length} modes × ${perRow} mails end delivered or in the failed spool with their cause`,
  async () => {
    const results = await Promise.all(rows.map(runRow));
    const mails = results.reduce((n, r) => n + r.ids.length, 0);
    const delivered = results.reduce((n, r) => n + r.delivered, 0);
    const failed = results.reduce((n, r) => n + r.inFailedSpool, 0);
    const withCause = results.reduce((n, r) => n + r.withCause, 0);
    const problems = results.flatMap((r) => r.problems.map((p) => `${r.row.name}: ${p}`));
    const duplicates = results.reduce((n, r) => n + r.duplicates, 0);
    const table = results.map(
      (r) =>
        `${r.row.name} → ${r.delivered ? `${r.delivered} delivered` : ""}${r.inFailedSpool ? `${r.inFailedSpool} ${r.row.state}, ${r.withCause} with lastError ~ ${r.row.cause?.source}` : ""}${r.problems.length ? ` [${r.problems.length} problems]` : ""}`,
    );
    figure(
      `upstream faults: ${rows.length} modes, ${mails} mails, ${delivered} delivered, ${failed} in failed.jsonl (${withCause} with their cause in lastError), ` +
        `${mails - delivered - failed} lost or stuck, ${problems.length} problems, ${duplicates} duplicates | ${table.join("; ")}`,
    );
    expect(problems).toEqual([]);
    expect(duplicates).toBe(0);
    expect(delivered + failed).toBe(mails);
  },
  sized(90_000, 300_000),
);
