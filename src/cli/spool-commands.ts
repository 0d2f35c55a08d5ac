// mailspool spool ls / show / stat: read the spool without locking or writing it.
import type { Command } from "commander";
import { mailStatus } from "../http/routes/status.js";
import { readCommandSpool, type ConfigOption } from "./context.js";
import { registerSpoolLs } from "./spool-ls.js";
import { registerSpoolStat } from "./spool-stat.js";
import { printOut } from "./stdout.js";

export class NotFoundError extends Error {}

export function registerSpoolCommands(program: Command): void {
  const spool = program.command("spool").description("read the spool");
  registerSpoolLs(spool);
  registerSpoolStat(spool);
  spool
    .command("show")
    .description("a mail, its recipients and every attempt (JSON)")
    .argument("<id>", "mail id")
    .option("-c, --config <file>", "config file")
    .action(async (id: string, options: ConfigOption) => {
      const found = await readCommandSpool(options, async ({ mails, readAccepted }) => {
        const entry = mails.get(id);
        return entry ? { entry, mail: (await readAccepted(id)).mail } : null;
      });
      if (!found) throw new NotFoundError(`no mail ${id}`);
      const { entry, mail } = found;
      const attachments = mail.attachments.map(({ inline: _inline, ...a }) => a);
      printOut(
        `${JSON.stringify({ ...mailStatus(entry, mail), client: entry.client, mail: { ...mail, attachments } }, null, 2)}\n`,
      );
    });
}
