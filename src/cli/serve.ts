// mailspool serve: run the relay until SIGTERM/SIGINT, then shut down in order and exit 0.
// SIGHUP reloads the config; an invalid new file is refused with a log line.
import type { Command } from "commander";
import { loadConfig } from "../config.js";
import { createLogger, flushLogger } from "../log.js";
import { startServer, type RunningServer } from "../server.js";
import type { ConfigOption } from "./context.js";

export function registerServe(program: Command): void {
  program
    .command("serve", { isDefault: true })
    .description("run the relay: HTTP intake, delivery workers, schedules")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action(async (options: ConfigOption) => {
      const loaded = loadConfig({ explicitPath: options.config });
      const log = createLogger(loaded.config.log.level);
      let server: RunningServer;
      try {
        server = await startServer(loaded, log);
      } catch (error) {
        log.fatal({ err: error }, "start-up failed");
        flushLogger(log);
        throw error;
      }
      const reload = () => {
        try {
          server.reload(loadConfig({ explicitPath: options.config }));
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
      await server.stop();
      flushLogger(log);
    });
}
