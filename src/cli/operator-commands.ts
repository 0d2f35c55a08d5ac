// mailspool replay / cancel: never write the spool from a second process; they drop
// pickup files that the server ingests (within a second when it runs, else at its next start).
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { splitAddressList } from "../address.js";
import { parseSince } from "../duration.js";
import { writePickupFile } from "../pickup/pickup-file.js";
import { lockHolder } from "../spool/lock.js";
import type { Spool } from "../spool/spool.js";
import { openSpoolForReading, type ConfigOption } from "./context.js";
import { NotFoundError } from "./spool-commands.js";

interface ReplayOptions extends ConfigOption {
  failed?: boolean;
  since?: Date;
  recipients?: string[];
  dryRun?: boolean;
}

function sinceArg(value: string): Date {
  const since = parseSince(value);
  if (!since) throw new InvalidArgumentError("a duration like 90s, 30m, 2h, 7d or an ISO date");
  return since;
}

/** Comma separated, keeping a comma inside a quoted local part ("a,b"@example.com). */
const listArg = (value: string) =>
  splitAddressList(value)
    .map((v) => v.trim())
    .filter(Boolean);

function whoPicksUp(spool: Spool): string {
  const pid = lockHolder(spool.paths.lock);
  return pid
    ? `the running server (pid ${pid}) picks them up within a second`
    : "no server is running: they are ingested at its next start";
}

function selectForReplay(spool: Spool, ids: string[], options: ReplayOptions): string[] {
  if (options.failed) {
    const since = options.since?.toISOString() ?? "";
    return spool.index
      .inStates(["partial", "failed"])
      .filter((e) => e.acceptedAt >= since)
      .map((e) => e.id);
  }
  if (ids.length === 0) throw new InvalidArgumentError("name mail ids, or use --failed");
  const missing = ids.filter((id) => !spool.index.get(id));
  if (missing.length) throw new NotFoundError(`no mail ${missing.join(", ")}`);
  return ids;
}

export function registerOperatorCommands(program: Command): void {
  program
    .command("replay")
    .description("put mails back in the queue (their unsent recipients, or --recipients) through pickup files")
    .argument("[ids...]", "mail ids")
    .option("-c, --config <file>", "config file")
    .option("--failed", "every mail in the failed spool (partial or failed)")
    .option("--since <when>", "with --failed: only mails accepted since (2h, 7d or an ISO date)", sinceArg)
    .option("--recipients <list>", "only these recipients (comma separated)", listArg)
    .option("--dry-run", "print what would be replayed, change nothing")
    .action((ids: string[], options: ReplayOptions) => {
      const spool = openSpoolForReading(options);
      const chosen = selectForReplay(spool, ids, options);
      for (const [n, id] of chosen.entries()) {
        const entry = spool.index.get(id)!;
        const recipients =
          options.recipients ?? entry.recipients.filter((r) => r.state !== "sent").map((r) => r.address);
        if (options.dryRun) {
          process.stdout.write(`would replay ${id} (${entry.state}) to ${recipients.join(", ")}\n`);
          continue;
        }
        const file = writePickupFile(spool.paths.pickup, `replay-${id}`, {
          replay: id,
          ...(options.recipients ? { recipients } : {}),
        });
        if (chosen.length <= 20)
          process.stdout.write(`replay of ${id} to ${recipients.length} recipient(s) written to pickup/${file}\n`);
        else if ((n + 1) % 100 === 0 || n + 1 === chosen.length)
          process.stdout.write(`replayed ${n + 1}/${chosen.length}\n`);
      }
      process.stdout.write(
        `${options.dryRun ? "dry run: nothing written" : `${chosen.length} replay file(s) written; ${whoPicksUp(spool)}`}\n`,
      );
    });
  program
    .command("cancel")
    .description("stop queued, deferred or failed mails for good (through pickup files)")
    .argument("<ids...>", "mail ids")
    .option("-c, --config <file>", "config file")
    .action((ids: string[], options: ConfigOption) => {
      const spool = openSpoolForReading(options);
      const missing = ids.filter((id) => !spool.index.get(id));
      if (missing.length) throw new NotFoundError(`no mail ${missing.join(", ")}`);
      for (const id of ids)
        process.stdout.write(
          `cancel of ${id} written to pickup/${writePickupFile(spool.paths.pickup, `cancel-${id}`, { cancel: id })}\n`,
        );
      process.stdout.write(`${whoPicksUp(spool)}\n`);
    });
}
