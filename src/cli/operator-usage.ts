// The options and usage rules of `replay` and `cancel`: which combinations make sense (a
// wrong one is a usage error, exit 2, printing what is wrong and the usage line), and the
// parsers of their values. Shared: the filters (--state, --since, --to), --dry-run, --wait.
import { type Command, InvalidArgumentError, Option } from "commander";
import { splitAddressList } from "../address.js";
import type { MailState } from "../types.js";
import type { ConfigOption } from "./context.js";
import { addressArg, sinceArg, stateArg } from "./option-values.js";

export interface CommonOptions extends ConfigOption {
  state?: MailState;
  since?: Date;
  to?: string;
  dryRun?: boolean;
  /** Seconds to wait without a verdict, or false (--no-wait). */
  wait: number | false;
}

export interface ReplayOptions extends CommonOptions {
  failed?: boolean;
  now?: boolean;
  recipients?: string[];
  includePermanent?: boolean;
}

function secondsArg(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError("a positive number of seconds");
  return seconds;
}

/** Comma separated, keeping a comma inside a quoted local part ("a,b"@example.com). */
export const listArg = (value: string) =>
  splitAddressList(value)
    .map((v) => v.trim())
    .filter(Boolean);

/** A wrong combination: what is wrong, then (through showHelpAfterError) the usage line; exit 2. */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: 2, code: "mailspool.usage" });
}

export function replayUsageProblem(ids: string[], o: ReplayOptions): string | null {
  const filter = o.failed || o.state;
  if (o.failed && ids.length)
    return `--failed selects the whole failed spool and takes no mail ids (got ${ids.join(" ")}); drop the ids, or drop --failed to replay just those mails`;
  if (o.state && ids.length) return "--state selects mails by state and takes no mail ids";
  if (o.failed && o.state) return "--failed and --state are two selections; use one";
  if (o.state && !o.now) return "replay --state deferred needs --now: it retries deferred mail now (like postqueue -f)";
  if (!filter && !ids.length) return "name mail ids, or select mails with --failed or --state deferred --now";
  if (!filter && (o.since || o.to)) return "--since and --to filter --failed or --state; they take no mail ids";
  if (o.recipients && filter) return "--recipients names recipients of mails given by id";
  if (o.recipients && o.now)
    return "--now retries a deferred mail's open recipients; --recipients names others: use one";
  if (o.includePermanent && !o.failed)
    return "--include-permanent widens --failed (`replay <id>` already takes every unsent recipient, permanently failed ones too)";
  return null;
}

export function cancelUsageProblem(ids: string[], o: CommonOptions): string | null {
  if (o.state && ids.length) return "--state selects mails by state and takes no mail ids";
  if (!o.state && !ids.length) return "name mail ids, or select mails with --state";
  if (!o.state && (o.since || o.to)) return "--since and --to filter --state; they take no mail ids";
  return null;
}

export function commonOptions(command: Command, states: readonly MailState[], note: string): Command {
  return command
    .option("-c, --config <file>", "config file")
    .option("--state <state>", `every mail in this state (${states.join("|")})`, stateArg(states, note))
    .option("--since <when>", "with a filter: only mails accepted since (2h, 7d or an ISO date)", sinceArg)
    .option("--to <address>", "with a filter: only mails with this recipient", addressArg)
    .option("--dry-run", "print exactly what would be done, write nothing")
    .addOption(
      new Option("--wait <seconds>", "wait this long for the server's next verdict").default(10).argParser(secondsArg),
    )
    .option("--no-wait", "do not wait for the server's verdict");
}

/** The usage line after every usage error of these commands (as the other commands show theirs). */
export function showUsageAfterErrors(command: Command): void {
  command.showHelpAfterError(
    `Usage: ${command.createHelp().commandUsage(command)}\n(see: mailspool ${command.name()} --help)`,
  );
}
