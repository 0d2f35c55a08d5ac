// mailspool serve: run the relay until SIGTERM/SIGINT, then shut down in order within
// shutdown.graceSeconds plus a few seconds (server-shutdown.ts) and exit, whatever is stuck.
// Exit 0, also when in-flight work had to be left to the next start (SPEC: SIGTERM exits 0;
// nothing acknowledged is lost by it); exit 1 only when the spool writer itself could not
// drain and close in time (a stuck or failing disk, which a supervisor should show).
// SIGHUP reloads the config; an invalid new file is refused with a log line.
import type { Command } from "commander";
import { formatIssue, loadConfig, type LoadedConfig } from "../config.js";
import { createLogger, flushLogger, type Logger } from "../log.js";
import { startServer, type RunningServer } from "../server.js";
import type { ConfigOption } from "./context.js";

export function registerServe(program: Command): void {
  program
    .command("serve", { isDefault: true })
    .description("run the relay: HTTP intake, delivery workers, schedules")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action(async (options: ConfigOption) => {
      // check-config's validation, files included: nothing starts on a config it would refuse
      const load = () => loadConfig({ explicitPath: options.config, checkFiles: true });
      const loaded = load();
      const log = createLogger(loaded.config.log.level);
      logWarnings(log, loaded);
      let server: RunningServer;
      try {
        server = await startServer(loaded, log);
      } catch (error) {
        log.fatal({ err: error }, "start-up failed");
        await flushLogger(log);
        throw error;
      }
      const reload = () => {
        try {
          const next = load();
          server.reload(next);
          logWarnings(log, next);
        } catch (error) {
          log.error({ err: error }, "SIGHUP: new config refused; the old one stays");
        }
      };
      process.on("SIGHUP", reload);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "signal received");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      process.off("SIGHUP", reload);
      const report = await server.stop();
      await flushLogger(log);
      if (!report.spoolClosed)
        throw new Error("shutdown: the spool writer did not close in time; the next start repairs its tail");
    });
}

function logWarnings(log: Logger, loaded: LoadedConfig): void {
  for (const warning of loaded.warnings) log.warn({ key: warning.keyPath }, `config: ${formatIssue(warning)}`);
}
