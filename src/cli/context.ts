// What every data-reading command shares: load the config (-c, MAILSPOOL_CONFIG,
// ./app.yaml, embedded default), say which data directory it resolved, and refuse (exit 1)
// when no spool is there, so a command run in the wrong directory never reports an empty
// spool or writes files for a server that does not exist. Reads the spool without a lock or a write.
import fs from "node:fs";
import { loadConfig, type LoadOptions, type LoadedConfig } from "../config.js";
import { createLogger } from "../log.js";
import { readSpool, type SpoolReader } from "../spool/spool-reader.js";
import { spoolPaths, type CountingObserver } from "../spool/spool.js";

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

/**
 * Reads the spool of `loaded` for `use`, never locking or writing it (spool-reader.ts): what
 * `use` returns is one moment of it. Says once on stderr when the index could not be used.
 */
export function readSpoolOf<T>(
  loaded: LoadedConfig,
  use: (reader: SpoolReader) => T | Promise<T>,
  counters: Record<string, CountingObserver> = {},
): Promise<T> {
  const onFallback = (reason: string) =>
    process.stderr.write(
      `mailspool: the spool index ${reason}: reading every segment instead, which takes longer as history grows; ` +
        "serve makes the index usable again at its next start\n",
    );
  return readSpool({ dataDir: loaded.dataDir, log: createLogger("warn", 2), counters, onFallback }, use);
}

/** readSpoolOf the spool the command's config names. */
export function readCommandSpool<T>(options: ConfigOption, use: (reader: SpoolReader) => T | Promise<T>): Promise<T> {
  return readSpoolOf(locateSpool(options), use);
}
