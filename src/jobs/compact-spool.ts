// Runs the spool compactor at start and every ten minutes; passes never overlap and a
// failure is logged, never fatal.
import type { Logger } from "../log.js";
import { compactSpool, type CompactOptions } from "../spool/compact.js";
import type { Spool } from "../spool/spool.js";

const intervalMs = 10 * 60_000;

export interface Compactor {
  run(): Promise<void>;
  stop(): Promise<void>;
}

export function startCompactor(spool: Spool, options: CompactOptions & { log: Logger }): Compactor {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= compactSpool(spool, options)
      .then(() => undefined)
      .catch((error) => options.log.error({ err: error }, "spool compaction failed"))
      .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  void run();
  return {
    run,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
