// mailspool fsck [--repair] [--json]: check the data directory and list each problem, one
// per line (exit 1 when any is an error; warnings alone exit 0). --repair refuses while a
// server holds data/lock, takes the lock itself, repairs, re-checks and prints what remains.
// On a terminal, the check shows its progress on stderr (files checked of the total).
import type { Command } from "commander";
import {
  checkDataDir,
  liveGraceMs,
  repairDataDir,
  scanDataDir,
  severityOf,
  type Problem,
  type Repair,
} from "../spool/fsck.js";
import { acquireLock, lockHolder } from "../spool/lock.js";
import { spoolPaths } from "../spool/spool.js";
import { locateSpool, type ConfigOption } from "./context.js";
import { startProgress } from "./progress.js";
import { printOut } from "./stdout.js";

interface FsckOptions extends ConfigOption {
  repair?: boolean;
  json?: boolean;
}

const where = (p: Problem) => `${p.file}${p.offset === undefined ? "" : `@${p.offset}`}`;

function problemLine(p: Problem, json: boolean): string {
  if (json)
    return JSON.stringify({
      kind: p.kind,
      severity: severityOf(p.kind),
      file: p.file,
      ...(p.offset === undefined ? {} : { offset: p.offset }),
      detail: p.detail,
    });
  return `${severityOf(p.kind) === "warning" ? "warning: " : ""}${p.kind} ${where(p)}: ${p.detail}`;
}

function repairLine(r: Repair, json: boolean): string {
  const p = r.problem;
  if (json)
    return JSON.stringify({
      repaired: true,
      kind: p.kind,
      file: p.file,
      ...(p.offset === undefined ? {} : { offset: p.offset }),
      detail: p.detail,
      action: r.action,
    });
  return `repaired ${p.kind} ${where(p)}: ${r.action}`;
}

function tally(problems: Problem[]): { errors: number; warnings: number; text: string } {
  const errors = problems.filter((p) => severityOf(p.kind) === "error").length;
  const warnings = problems.length - errors;
  return { errors, warnings, text: `${errors} problem(s)${warnings ? `, ${warnings} warning(s)` : ""}` };
}

export function registerFsck(program: Command): void {
  program
    .command("fsck")
    .description(
      "check the data directory: every line terminated, checksummed and parsed, every blob present with its size and sha256, no orphans or temp files",
    )
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .option(
      "--repair",
      "quarantine corrupt and torn lines to corrupt/, remove temp files, move orphan blobs to corrupt/blobs/ (refused while a server runs)",
    )
    .option("--json", "one JSON object per line")
    .action((options: FsckOptions) => {
      const paths = spoolPaths(locateSpool(options).dataDir);
      const json = options.json === true;
      const out = (line: string) => printOut(`${line}\n`);
      const holder = lockHolder(paths.lock);

      if (!options.repair) {
        if (holder !== null)
          process.stderr.write(
            `mailspool: a server (pid ${holder}) is running: files a request may still be writing (younger than ${liveGraceMs / 60_000} min) are not reported\n`,
          );
        const progress = startProgress("fsck: files checked");
        const { problems, stats } = scanDataDir(paths, {
          live: holder !== null,
          onProgress: (done, total) => progress.update(done, total),
        });
        progress.end();
        for (const p of problems) out(problemLine(p, json));
        const { errors, text } = tally(problems);
        process.stderr.write(
          `mailspool: fsck checked ${stats.segments} segment(s), ${stats.records} record(s), ${stats.blobs} blob(s): ${text}\n`,
        );
        if (errors > 0)
          throw new Error(
            `fsck: ${text} in ${paths.data}${problems.some((p) => p.kind !== "missing-blob") ? " (mailspool fsck --repair quarantines what can be)" : ""}`,
          );
        return;
      }

      if (holder !== null) {
        throw new Error(
          `fsck --repair refused: a mailspool server (pid ${holder}) holds ${paths.lock}; stop it first (fsck without --repair is safe while it runs)`,
        );
      }
      const release = acquireLock(paths.lock); // no serve may start while we rewrite
      try {
        const repairs = repairDataDir(paths, checkDataDir(paths));
        for (const r of repairs) out(repairLine(r, json));
        const remaining = checkDataDir(paths);
        for (const p of remaining) out(problemLine(p, json));
        const { errors, text } = tally(remaining);
        process.stderr.write(
          `mailspool: fsck --repair: ${repairs.length} repaired; ${remaining.length ? `${text} remain` : "clean"}\n`,
        );
        if (errors > 0) throw new Error(`fsck --repair: ${text} remain that cannot be repaired automatically`);
      } finally {
        release();
      }
    });
}
