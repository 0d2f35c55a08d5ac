// mailspool check-config: validate app.yaml and print the effective config, secrets masked.
import type { Command } from "commander";
import { maskSecrets } from "../config.js";
import { loadForCommand, type ConfigOption } from "./context.js";

export function registerCheckConfig(program: Command): void {
  program
    .command("check-config")
    .description("validate the config and print the effective values (secrets masked)")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action((options: ConfigOption) => {
      const loaded = loadForCommand(options);
      process.stdout.write(`${JSON.stringify(maskSecrets(loaded.config), null, 2)}\n`);
    });
}
