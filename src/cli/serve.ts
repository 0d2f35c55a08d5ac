// mailspool serve: run the relay until SIGTERM/SIGINT, then shut down in order and exit 0.
import type { Command } from "commander";
import { loadConfig } from "../config.js";
import { createLogger, flushLogger } from "../log.js";
import { startServer } from "../server.js";
import type { ConfigOption } from "./context.js";

export function registerServe(program: Command): void {
  program
    .command("serve", { isDefault: true })
    .description("run the relay: HTTP intake, delivery workers, schedules")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action(async (options: ConfigOption) => {
      const loaded = loadConfig({ explicitPath: options.config });
      const log = createLogger(loaded.config.log.level);
      let server;
      try {
        server = await startServer(loaded, log);
      } catch (error) {
        log.fatal({ err: error }, "start-up failed");
        flushLogger(log);
        throw error;
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "signal received");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        // the default action of SIGHUP would kill the relay; reloading comes with SIGHUP support
        process.on("SIGHUP", () => log.warn("SIGHUP ignored: this version does not reload its config; restart to apply changes"));
      });
      await server.stop();
      flushLogger(log);
    });
}
