// The one way a croner pattern from the config is read: config validation (check-config,
// serve, SIGHUP) parses `failed.rescan` with the same constructor and options the rescan
// job schedules it with, so a pattern that passes the check is one the job accepts.
import { Cron } from "croner";

/** Scheduling options that every config-driven job shares; none of them changes how a pattern parses. */
const jobOptions = { protect: true, unref: true } as const;

/** Why croner refuses `pattern` (or why it would never run), or null when it is usable. */
export function cronPatternProblem(pattern: string): string | null {
  let cron: Cron;
  try {
    cron = new Cron(pattern, { ...jobOptions, paused: true });
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern: /, "").replace(/\.$/, "");
    return `not a croner pattern: ${reason} (e.g. "0 * * * *" = hourly)`;
  }
  const next = cron.nextRun();
  cron.stop();
  return next === null ? "this pattern never fires (no such date)" : null;
}

export function scheduleCron(pattern: string, onError: (error: unknown) => void, run: () => Promise<void>): Cron {
  return new Cron(pattern, { ...jobOptions, catch: onError }, run);
}
