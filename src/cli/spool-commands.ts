// mailspool spool ls / spool show: read the spool without locking or writing it.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { parseSince } from "../duration.js";
import { mailStatus } from "../http/routes/status.js";
import { mailStates, type MailState } from "../types.js";
import { openSpoolForReading, type ConfigOption } from "./context.js";

export class NotFoundError extends Error {}

interface LsOptions extends ConfigOption {
  state?: MailState;
  since?: Date;
  limit: number;
  json?: boolean;
}

function stateArg(value: string): MailState {
  if (!(mailStates as readonly string[]).includes(value))
    throw new InvalidArgumentError(`one of ${mailStates.join(", ")}`);
  return value as MailState;
}

function sinceArg(value: string): Date {
  const since = parseSince(value);
  if (!since) throw new InvalidArgumentError("a duration like 90s, 30m, 2h, 7d or an ISO date");
  return since;
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
}

export function registerSpoolCommands(program: Command): void {
  const spool = program.command("spool").description("read the spool");
  spool
    .command("ls")
    .description("list mails, newest first")
    .option("-c, --config <file>", "config file")
    .option("--state <state>", `only mails in this state (${mailStates.join("|")})`, stateArg)
    .option("--since <when>", "only mails accepted since (2h, 30m, 7d or an ISO date)", sinceArg)
    .option("--limit <n>", "at most this many", limitArg, 1000)
    .option("--json", "one JSON object per line")
    .action((options: LsOptions) => {
      const entries = openSpoolForReading(options).index.list(options);
      for (const e of entries) {
        if (options.json)
          process.stdout.write(
            `${JSON.stringify({ id: e.id, state: e.state, acceptedAt: e.acceptedAt, subject: e.subject, recipients: e.recipients.length, attempts: e.attempts.length })}\n`,
          );
        else
          process.stdout.write(
            `${e.id}  ${e.state.padEnd(9)}  ${e.acceptedAt}  ${String(e.recipients.length).padStart(3)} rcpt  ${e.subject}\n`,
          );
      }
    });
  spool
    .command("show")
    .description("a mail, its recipients and every attempt (JSON)")
    .argument("<id>", "mail id")
    .option("-c, --config <file>", "config file")
    .action(async (id: string, options: ConfigOption) => {
      const store = openSpoolForReading(options);
      const entry = store.index.get(id);
      if (!entry) throw new NotFoundError(`no mail ${id}`);
      const accepted = await store.readAccepted(id);
      const { mail } = accepted;
      const attachments = mail.attachments.map(({ inline: _inline, ...a }) => a);
      process.stdout.write(
        `${JSON.stringify({ ...mailStatus(entry, mail), client: entry.client, mail: { ...mail, attachments } }, null, 2)}\n`,
      );
    });
}
