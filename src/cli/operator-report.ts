// What `replay` and `cancel` print: the plan (a dry run shows exactly the requests the real
// run writes), refusals, and the server's verdicts. Per-mail lines for up to perMailLines
// mails (every refusal always), then one summary line. Returns the exit code: a request
// refused, a file rejected, or a verdict not known is not success.
import type { BatchOutcome } from "../pickup/batch-results.js";
import type { Plan, Planned } from "./operator-plan.js";
import type { WaitOutcome } from "./pickup-verdicts.js";
import { printOut } from "./stdout.js";

export const perMailLines = 20;

export interface Out {
  out(line: string): void;
  err(line: string): void;
}

export const stdio: Out = {
  out: (line) => printOut(`${line}\n`),
  err: (line) => process.stderr.write(`mailspool: ${line}\n`),
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function planLine(planned: Planned, prefix: "would " | ""): string {
  const { request, state, sendTo } = planned;
  return request.kind === "replay"
    ? `${prefix}replay ${request.id} (${state}) to ${sendTo.join(", ")}`
    : `${prefix}cancel ${request.id} (${state})`;
}

export function planSummary(plan: Plan): string {
  const replays = plan.planned.filter((p) => p.request.kind === "replay");
  const recipients = replays.reduce((n, p) => n + p.sendTo.length, 0);
  const cancels = plan.planned.length - replays.length;
  return [
    replays.length ? `would replay ${plural(replays.length, "mail")} to ${plural(recipients, "recipient")}` : "",
    cancels ? `would cancel ${plural(cancels, "mail")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/** Skipped mails (a filter found them, nothing to do) are listed, never an error. */
export function reportSkipped(plan: Plan, io: Out): void {
  for (const s of plan.skipped) io.out(`skip ${s.id} (${s.state}): ${s.reason}`);
}

function outcomeLine(result: BatchOutcome): string {
  switch (result.outcome) {
    case "replayed":
      return `replayed ${result.id} to ${plural(result.recipients, "recipient")}`;
    case "cancelled":
      return `cancelled ${result.id}`;
    case "already-cancelled":
      return `${result.id} was already cancelled`;
    case "done-before":
      return `${result.action} of ${result.id} done by an earlier ingestion of the same file`;
    case "refused":
      return `refused ${result.action} of ${result.id}: ${result.reason}`;
  }
}

export function reportVerdicts(wait: WaitOutcome, serverPid: number, idleSeconds: number, io: Out): number {
  const results = wait.verdicts.flatMap((v) => (v.kind === "done" ? v.results : []));
  const manyMails = results.length > perMailLines;
  let failures = 0;
  for (const result of results) {
    const bad = result.outcome === "refused" || result.outcome === "already-cancelled";
    if (bad) {
      failures += 1;
      io.err(outcomeLine(result));
    } else if (!manyMails) io.out(outcomeLine(result));
  }
  for (const v of wait.verdicts) {
    if (v.kind === "done") continue;
    failures += v.file.requests.length;
    io.err(
      v.kind === "rejected"
        ? `the server rejected pickup/${v.file.name} (${plural(v.file.requests.length, "request")}), moved to pickup/rejected/: ${v.reason.replace(/\n/g, "; ")}`
        : `pickup/${v.file.name} (${plural(v.file.requests.length, "request")}) was removed by someone else before the server's verdict`,
    );
  }
  const replayed = results.filter((r) => r.outcome === "replayed");
  const recipients = replayed.reduce((n, r) => n + (r.outcome === "replayed" ? r.recipients : 0), 0);
  const cancelled = results.filter((r) => r.outcome === "cancelled").length;
  const earlier = results.filter((r) => r.outcome === "done-before").length;
  const done = [
    replayed.length ? `replayed ${plural(replayed.length, "mail")} to ${plural(recipients, "recipient")}` : "",
    cancelled ? `cancelled ${plural(cancelled, "mail")}` : "",
    earlier ? `${earlier} done by an earlier ingestion` : "",
    failures ? `${failures} refused` : "",
  ].filter(Boolean);
  if (done.length) io.out(`${done.join(", ")}`);
  const waiting = wait.pending.reduce((n, f) => n + f.requests.length, 0);
  if (waiting === 0) return failures ? 1 : 0;
  const files = `${plural(wait.pending.length, "file")} (${plural(waiting, "request")})`;
  io.err(
    wait.serverStopped
      ? `the server (pid ${serverPid}) stopped before ingesting ${files}: they wait in pickup/ for its next start`
      : `no verdict from the server (pid ${serverPid}) within ${idleSeconds} s on ${files}: they stay in pickup/ and the server will still ingest them — do not run the command again; \`mailspool spool show <id>\` tells what happened`,
  );
  return 1;
}
