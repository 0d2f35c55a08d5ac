// mailspool replay / cancel: never write the spool from a second process. They check every
// request against the spool first, read-only, with the server's own rules (operator-plan.ts),
// and refuse before writing anything; then they drop batch files in pickup/ and, while a
// server runs, wait for its verdict on each (pickup-verdicts.ts). Bulk by filter, as
// `postsuper -d ALL deferred` and `postqueue -f` do: `cancel --state S`, `replay --state deferred --now`.
import type { Command } from "commander";
import { cancellableStates } from "../delivery/action-rules.js";
import { lockHolder } from "../spool/lock.js";
import type { SpoolPaths } from "../spool/spool.js";
import type { MailState } from "../types.js";
import { readCommandSpool } from "./context.js";
import { planCancel, planReplay, selectByFilter, type Plan, type RecipientChoice } from "./operator-plan.js";
import { perMailLines, planLine, planSummary, reportSkipped, reportVerdicts, stdio } from "./operator-report.js";
import {
  cancelUsageProblem,
  commonOptions,
  listArg,
  replayUsageProblem,
  showUsageAfterErrors,
  usageError,
  type CommonOptions,
  type ReplayOptions,
} from "./operator-usage.js";
import { submitRequests } from "./pickup-submit.js";
import { waitForVerdicts } from "./pickup-verdicts.js";
import { startProgress } from "./progress.js";

function replayChoice(o: ReplayOptions): RecipientChoice {
  if (o.failed) return { kind: "failed", includePermanent: o.includePermanent === true };
  if (o.now) return { kind: "now" };
  return o.recipients ? { kind: "named", recipients: o.recipients } : { kind: "unsent" };
}

/** Prints the plan, refuses it whole when any request would be refused, else hands it to the server. */
async function carryOut(
  paths: SpoolPaths,
  verb: "replay" | "cancel",
  plan: Plan,
  options: CommonOptions,
): Promise<void> {
  const io = stdio;
  reportSkipped(plan, io);
  if (plan.refused.length) {
    for (const r of plan.refused) io.err(`cannot ${verb} ${r.id}: ${r.reason}`);
    const total = plan.refused.length + plan.planned.length;
    throw new Error(`nothing written: ${plan.refused.length} of ${total} request(s) would be refused`);
  }
  if (plan.planned.length === 0) return io.out(`nothing to ${verb}: no mail matches`);
  if (options.dryRun) {
    for (const p of plan.planned) io.out(planLine(p, "would "));
    return io.out(`dry run: ${planSummary(plan)}; nothing written`);
  }
  const requests = plan.planned.map((p) => p.request);
  const files = submitRequests(
    paths.pickup,
    verb,
    requests,
    startProgress(`${verb}: writing pickup files`, requests.length),
  );
  const written = `${requests.length} ${verb} request(s) written to pickup/ (${files.length} file(s))`;
  const pid = lockHolder(paths.lock);
  // without a verdict to come, the requests themselves are what there is to show
  if ((pid === null || options.wait === false) && plan.planned.length <= perMailLines)
    for (const p of plan.planned) io.out(planLine(p, ""));
  if (pid === null) return io.out(`${written}; no server is running: they wait in pickup/ for its next start`);
  if (options.wait === false)
    return io.out(`${written}; the running server (pid ${pid}) ingests them within a second (--no-wait: not waiting)`);
  io.out(`${written}; waiting for the server (pid ${pid})`);
  const progress = startProgress(`${verb}: server verdicts`, requests.length);
  const outcome = await waitForVerdicts(files, {
    pickupDir: paths.pickup,
    lockFile: paths.lock,
    idleMs: options.wait * 1000,
    onProgress: (done) => progress.update(done),
  });
  progress.end();
  if (reportVerdicts(outcome, pid, options.wait, io) !== 0)
    throw new Error(`${verb}: not every request succeeded (see above)`);
}

export function registerOperatorCommands(program: Command): void {
  const replay = program
    .command("replay")
    .description("put mails back in the queue (their unsent recipients, or --recipients) through pickup/")
    .argument("[ids...]", "mail ids")
    .option("--failed", "every mail in the failed spool (partial or failed): its failed-transient recipients")
    .option("--include-permanent", "with --failed: the failed-permanent recipients too")
    .option("--now", "with --state deferred (or ids of deferred mails): retry now, like postqueue -f")
    .option("--recipients <list>", "only these recipients (comma separated)", listArg);
  commonOptions(
    replay,
    ["deferred"],
    "replay --state retries deferred mail with --now; use --failed for the failed spool",
  );
  replay.action(async (ids: string[], options: ReplayOptions, command: Command) => {
    const problem = replayUsageProblem(ids, options);
    if (problem) usageError(command, problem);
    const filtered = options.failed || options.state;
    const states: MailState[] = options.failed ? ["partial", "failed"] : ["deferred"];
    const { paths, plan } = await readCommandSpool(options, ({ mails, paths }) => {
      const chosen = filtered
        ? selectByFilter(mails, { states, since: options.since, to: options.to })
        : [...new Set(ids)];
      return { paths, plan: planReplay(mails, chosen, replayChoice(options)) };
    });
    await carryOut(paths, "replay", plan, options);
  });
  showUsageAfterErrors(replay);

  const cancel = program
    .command("cancel")
    .description("stop scheduled, queued, deferred or failed mails for good (through pickup/)")
    .argument("[ids...]", "mail ids");
  commonOptions(cancel, cancellableStates, "sent and cancelled mails are final");
  cancel.action(async (ids: string[], options: CommonOptions, command: Command) => {
    const problem = cancelUsageProblem(ids, options);
    if (problem) usageError(command, problem);
    const { paths, plan } = await readCommandSpool(options, ({ mails, paths }) => {
      const chosen = options.state
        ? selectByFilter(mails, { states: [options.state], since: options.since, to: options.to })
        : [...new Set(ids)];
      return { paths, plan: planCancel(mails, chosen) };
    });
    await carryOut(paths, "cancel", plan, options);
  });
  showUsageAfterErrors(cancel);
}
