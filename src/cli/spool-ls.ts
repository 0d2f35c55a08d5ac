// mailspool spool ls: the mails, newest first, filtered (state, since, recipient, subject, tag)
// before --limit cuts the list. On a terminal a header row; a cut list always says
// "showing N of M" on stderr, so stdout stays data (`| xargs`, --json lines) and a piped
// list never looks complete when it is not.
import { InvalidArgumentError, type Command } from "commander";
import type { MailEntry } from "../spool/mail-index.js";
import { mailStates, type MailState } from "../types.js";
import { unsafeText } from "../unsafe-text.js";
import { readCommandSpool, type ConfigOption } from "./context.js";
import { addressArg, sinceArg, stateArg } from "./option-values.js";
import { printOut } from "./stdout.js";

interface LsOptions extends ConfigOption {
  state?: MailState;
  since?: Date;
  to?: string;
  subject?: string;
  tag?: string;
  limit: number;
  json?: boolean;
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
}

function textArg(value: string): string {
  if (value === "") throw new InvalidArgumentError("some text");
  return value;
}

const unsafeChars = new RegExp(unsafeText.source, "gu");
/** A subject as a terminal shows it: no escape sequences, no text that reads backwards. */
const printable = (text: string) => text.replace(unsafeChars, "\ufffd");

const header = `${"ID".padEnd(26)}  ${"STATE".padEnd(9)}  ${"ACCEPTED".padEnd(24)}  ${"RCPT".padStart(8)}  SUBJECT`;

function line(e: MailEntry, json: boolean): string {
  if (json)
    return JSON.stringify({
      id: e.id,
      state: e.state,
      acceptedAt: e.acceptedAt,
      subject: e.subject,
      recipients: e.recipients.length,
      attempts: e.attempts.length,
      ...(e.state === "scheduled" ? { sendAt: e.nextAttemptAt } : {}),
      ...(e.tags ? { tags: e.tags } : {}),
    });
  return `${e.id}  ${e.state.padEnd(9)}  ${e.acceptedAt}  ${String(e.recipients.length).padStart(3)} rcpt  ${printable(e.subject)}`;
}

export function registerSpoolLs(spool: Command): void {
  spool
    .command("ls")
    .description("list mails, newest first")
    .option("-c, --config <file>", "config file")
    .option("--state <state>", `only mails in this state (${mailStates.join("|")})`, stateArg())
    .option("--since <when>", "only mails accepted since (2h, 30m, 7d or an ISO date)", sinceArg)
    .option("--to <address>", "only mails to this recipient (to, cc or bcc; any spelling of its domain)", addressArg)
    .option("--subject <text>", "only mails whose subject contains this (case ignored)", textArg)
    .option("--tag <tag>", "only mails with this tag", textArg)
    .option("--limit <n>", "at most this many", limitArg, 1000)
    .option("--json", "one JSON object per line")
    .action(async (options: LsOptions) => {
      const { state, since, to, subject, tag, limit } = options;
      const query = { state, since, recipient: to, subject, tag };
      const { shown, total } = await readCommandSpool(options, ({ mails }) => {
        const shown = mails.list({ ...query, limit });
        return { shown, total: shown.length < limit ? shown.length : mails.countMatching(query) };
      });
      const json = options.json === true;
      const terminal = process.stdout.isTTY === true && !json;
      if (terminal && shown.length) printOut(`${header}\n`);
      for (const e of shown) printOut(`${line(e, json)}\n`);
      if (shown.length < total)
        process.stderr.write(
          `mailspool: showing ${shown.length} of ${total} mails (newest first; --limit ${total} shows all)\n`,
        );
      else if (terminal && !shown.length) process.stderr.write("mailspool: no mail matches\n");
    });
}
