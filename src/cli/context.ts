// What every data-reading command shares: load the config (-c, MAILSPOOL_CONFIG,
// ./app.yaml, embedded default), say which data directory it resolved, and refuse (exit 1)
// when no spool is there, so a command run in the wrong directory never reports an empty
// spool or writes files for a server that does not exist. Opens the spool read-only.
import fs from "node:fs";
import { loadConfig, type LoadOptions, type LoadedConfig } from "../config.js";
import { createLogger } from "../log.js";
import type { SpoolRecord } from "../spool/record.js";
import { Spool, spoolPaths } from "../spool/spool.js";

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

/** How the data directory was found and what to correct, for the message when it holds no spool. */
export function dataDirOrigin(loaded: LoadedConfig): { origin: string; fix: string } {
  const variable = loaded.overrides.get("spool.dir");
  if (variable) return { origin: `set by ${variable}`, fix: `check ${variable}` };
  if (loaded.source)
    return { origin: `spool.dir of ${loaded.source}, default ./data beside it`, fix: "check spool.dir there" };
  return {
    origin: "the embedded default ./data in the current directory: no -c, no MAILSPOOL_CONFIG, no ./app.yaml",
    fix: "run the command where the relay's app.yaml is, or give -c app.yaml",
  };
}

/** A data directory holds a spool once serve has run there: spool/ (live segments) or archive/. */
export function hasSpool(dataDir: string): boolean {
  const paths = spoolPaths(dataDir);
  return fs.existsSync(paths.spool) || fs.existsSync(paths.archive);
}

/** The config of a command that reads the spool; throws when its data directory holds none. Creates nothing. */
export function locateSpool(options: ConfigOption): LoadedConfig {
  const loaded = loadForCommand(options);
  if (!hasSpool(loaded.dataDir)) {
    const { origin, fix } = dataDirOrigin(loaded);
    throw new Error(`no spool at ${loaded.dataDir} (${origin}); mailspool serve has not run there: ${fix}`);
  }
  return loaded;
}

/** The spool of `loaded`, read-only; `observers` see every record as the index is rebuilt (archive/, then spool/). */
export function readSpool(loaded: LoadedConfig, observers: ((record: SpoolRecord) => void)[] = []): Spool {
  return Spool.read({ dataDir: loaded.dataDir, log: createLogger("warn", 2), observers });
}

export function openSpoolForReading(options: ConfigOption): Spool {
  return readSpool(locateSpool(options));
}
