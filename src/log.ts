// The root pino logger: JSON lines to stdout. No worker-thread transports, which do not
// work inside the single executable; components take children of this logger.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination: pino.DestinationStream | number = 1): Logger {
  const stream = typeof destination === "number" ? pino.destination({ dest: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { name: "mailspool" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["*.pass", "*.token", "*.password", "authorization", "*.authorization"], censor: "***" },
    },
    stream,
  );
}

export function flushLogger(log: Logger): void {
  try {
    log.flush();
  } catch {
    // the destination may already be closed at exit
  }
}
