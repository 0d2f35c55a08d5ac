// What every data-reading command shares: load the config (-c, MAILSPOOL_CONFIG,
// ./app.yaml, embedded default), say which data directory it resolved, open the spool read-only.
import { loadConfig, type LoadOptions, type LoadedConfig } from "../config.js";
import { createLogger } from "../log.js";
import { Spool } from "../spool/spool.js";

export interface ConfigOption {
  config?: string;
}

export function loadForCommand(options: ConfigOption, load: Pick<LoadOptions, "checkFiles"> = {}): LoadedConfig {
  const loaded = loadConfig({ explicitPath: options.config, ...load });
  process.stderr.write(
    `mailspool: config ${loaded.source ?? "(embedded default)"}, data directory ${loaded.dataDir}\n`,
  );
  return loaded;
}

export function openSpoolForReading(options: ConfigOption): Spool {
  const loaded = loadForCommand(options);
  return Spool.read({ dataDir: loaded.dataDir, log: createLogger("warn", 2) });
}
