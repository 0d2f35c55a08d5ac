// The command tree of the executable: every command registered, each one's usage errors set
// up (./usage-errors.ts). Built by a function so tests can walk the same tree the binary runs.
import { Command } from "commander";
import { registerCheckConfig } from "./check-config.js";
import { registerFsck } from "./fsck.js";
import { registerHealthcheck } from "./healthcheck.js";
import { registerOperatorCommands } from "./operator-commands.js";
import { registerReindex } from "./reindex.js";
import { registerServe } from "./serve.js";
import { registerSpoolCommands } from "./spool-commands.js";
import { registerTemplateCommands } from "./template-render.js";
import { configureUsageErrors } from "./usage-errors.js";
import { mailspoolVersion } from "../version.js";

/** What `mailspool` runs with no command. */
export const defaultCommand = "serve";

export function createProgram(): Command {
  const program = new Command("mailspool")
    .description("outbound mail relay: durable intake, JSON-lines spool, delivery")
    .version(mailspoolVersion)
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerServe(program);
  registerSpoolCommands(program);
  registerCheckConfig(program);
  registerOperatorCommands(program);
  registerFsck(program);
  registerReindex(program);
  registerHealthcheck(program);
  registerTemplateCommands(program);
  configureUsageErrors(program);
  return program;
}
