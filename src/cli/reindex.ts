// mailspool reindex: drops the spool index (data/index.sqlite) and rebuilds it from every
// segment, archive/ included — what serve does by itself when the index is missing or does
// not fit. Refused while a server holds data/lock.
import type { Command } from "commander";
import { createLogger } from "../log.js";
import { removeIndexFile } from "../spool/index-db.js";
import { lockHolder } from "../spool/lock.js";
import { spoolCounters } from "../spool-counters.js";
import { indexFile, Spool, spoolPaths } from "../spool/spool.js";
import { locateSpool, type ConfigOption } from "./context.js";
import { printOut } from "./stdout.js";

export function registerReindex(program: Command): void {
  program
    .command("reindex")
    .description("rebuild the spool index from the segments (refused while a server runs)")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action(async (options: ConfigOption) => {
      const { dataDir, config } = locateSpool(options);
      const paths = spoolPaths(dataDir);
      const holder = lockHolder(paths.lock);
      if (holder !== null)
        throw new Error(`reindex refused: a mailspool server (pid ${holder}) holds ${paths.lock}; stop it first`);
      const started = performance.now();
      removeIndexFile(indexFile(dataDir));
      const log = createLogger("warn", 2);
      // the daily and quota counts are folded and saved with it, as serve's own rebuild does
      const spool = Spool.open({ dataDir, log, minFreeBytes: -1, counters: spoolCounters(config, log).all });
      const mails = spool.index.size;
      const records = spool.recovery?.records ?? 0;
      await spool.close();
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      printOut(`reindexed ${mails} mail(s) from ${records} record(s) in ${seconds} s\n`);
    });
}
