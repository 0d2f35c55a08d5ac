// Entry of the executable: argv → command. Exit codes: 0 ok, 1 failure, 2 usage error.
import { Command, CommanderError } from "commander";
import { registerCheckConfig } from "./cli/check-config.js";
import { registerFsck } from "./cli/fsck.js";
import { registerHealthcheck } from "./cli/healthcheck.js";
import { registerOperatorCommands } from "./cli/operator-commands.js";
import { registerServe } from "./cli/serve.js";
import { registerSpoolCommands } from "./cli/spool-commands.js";

const program = new Command("mailspool")
  .description("outbound mail relay: durable intake, JSON-lines spool, delivery")
  .version("0.1.0")
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });
registerServe(program);
registerSpoolCommands(program);
registerCheckConfig(program);
registerOperatorCommands(program);
registerFsck(program);
registerHealthcheck(program);
for (const command of program.commands) {
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
}

/** Exits once stdout and stderr are flushed: a piped listing must not lose its tail. */
async function exitWith(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))),
  );
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
  await exitWith(0);
} catch (error) {
  if (error instanceof CommanderError) await exitWith(error.exitCode === 0 ? 0 : 2);
  process.stderr.write(`mailspool: ${(error as Error).message}\n`);
  await exitWith(1);
}
