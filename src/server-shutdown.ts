// SIGTERM with one deadline: shutdown.graceSeconds plus drainSeconds. Intake answers 503 at
// once; open HTTP requests, SMTP intake sessions, in-flight deliveries, the pickup scan and
// the compactor get the grace period together; then the spool writer drains and the lock is
// released within what is left. Whatever still runs at the deadline is named in the log and
// left behind for the caller to exit on. Nothing acknowledged is at risk: an acknowledgement
// follows the record's fdatasync, and a torn tail is repaired at the next start.
import type { RunningServer } from "./server.js";
import { settleWithin } from "./time-limit.js";

/** Time beyond the grace period for the spool writer to drain and the lock to be released. */
export const drainSeconds = 5;

export interface ShutdownReport {
  /** What was still running when the deadline passed (empty after a clean shutdown). */
  stuck: string[];
  /** The spool writer drained and the lock was released. */
  spoolClosed: boolean;
}

export async function stopServer(running: RunningServer): Promise<ShutdownReport> {
  const started = Date.now();
  const graceMs = running.config.shutdown.graceSeconds * 1000;
  const deadline = started + graceMs + drainSeconds * 1000;
  running.gate.accepting = false;
  running.rescan.stop();
  running.alerts.stop();
  running.log.info({ graceMs, drainMs: drainSeconds * 1000 }, "shutting down: intake closed");
  const pending = new Set<string>();
  const failed = new Set<string>();
  const step = (name: string, work: Promise<unknown> | undefined): Promise<unknown> => {
    if (!work) return Promise.resolve();
    pending.add(name);
    return work
      .catch((error) => {
        failed.add(name);
        running.log.error({ err: error, step: name }, "shutdown step failed");
      })
      .finally(() => pending.delete(name));
  };
  const released = Promise.all([
    step("http requests", running.listening.close()),
    step("smtp intake sessions", running.smtp?.close()),
    step("in-flight deliveries", running.delivery.stop(graceMs)),
    step("pickup scan", running.pickup.stop()),
    step("spool compaction", running.compactor.stop()),
  ]);
  await settleWithin(released, graceMs);
  // the broker gets its acknowledgements before the connection closes, the publishing position is saved
  await settleWithin(step("broker", running.cluster?.stop()), Math.max(0, deadline - Date.now() - drainSeconds * 500));
  const spool = step("spool writer", running.spool.close());
  await settleWithin(spool, deadline - Date.now());
  const stuck = [...pending];
  const elapsedMs = Date.now() - started;
  if (stuck.length)
    running.log.warn(
      { stuck, elapsedMs },
      "shutdown deadline passed; exiting with these still running (unfinished work resumes at the next start)",
    );
  else running.log.info({ elapsedMs }, "shutdown complete");
  return { stuck, spoolClosed: !pending.has("spool writer") && !failed.has("spool writer") };
}
