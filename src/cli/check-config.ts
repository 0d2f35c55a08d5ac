// mailspool check-config: validate app.yaml as serve would before it starts (schema, croner
// pattern, TLS files, DKIM keys, templates, environment overrides) and print the effective
// config, secrets masked, on stdout; on stderr what an operator could otherwise miss: which
// values the environment set, warnings, where each upstream is reached, and the DNS record
// each DKIM key needs. Exit 1 listing every error.
import type { Command } from "commander";
import { dnsRecord } from "../config-dkim.js";
import { formatIssue, maskSecrets, type LoadedConfig } from "../config.js";
import { loadForCommand, type ConfigOption } from "./context.js";
import { printOut } from "./stdout.js";

function notes(loaded: LoadedConfig): string[] {
  const lines: string[] = [];
  if (loaded.overrides.size)
    lines.push(
      `from the environment: ${[...loaded.overrides].map(([key, variable]) => `${key} (${variable})`).join(", ")}`,
    );
  for (const warning of loaded.warnings) lines.push(`warning: ${formatIssue(warning)}`);
  if (loaded.templates)
    lines.push(`templates in ${loaded.templates.dir}: ${loaded.templates.summary.join(", ") || "none"}`);
  const { upstreams } = loaded.config.delivery;
  if (upstreams.length === 0) lines.push(`delivery: the embedded outbox, ${loaded.dataDir}/outbox`);
  for (const u of upstreams)
    lines.push(
      `upstream ${u.name}: ${u.host}:${u.port}, ${u.secure ? "implicit TLS" : u.requireTLS ? "STARTTLS required" : "STARTTLS when offered"}${u.user ? `, AUTH as ${u.user}` : ""}`,
    );
  for (const key of loaded.dkimKeys) lines.push(`dkim ${key.domain}: publish ${dnsRecord(key)}`);
  return lines;
}

export function registerCheckConfig(program: Command): void {
  program
    .command("check-config")
    .description("validate the config as serve would and print the effective values (secrets masked)")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action((options: ConfigOption) => {
      const loaded = loadForCommand(options, { checkFiles: true });
      for (const line of notes(loaded)) process.stderr.write(`mailspool: ${line}\n`);
      printOut(`${JSON.stringify(maskSecrets(loaded.config), null, 2)}\n`);
    });
}
