// The failed-spool rescan (croner, `failed.rescan`, hourly by default; runs never overlap):
// every partial/failed mail accepted within `failed.maxAgeHours` that has failed-transient
// recipients gets one more attempt for them. failed-permanent recipients wait for a person.
import type { Cron } from "croner";
import { scheduleCron } from "../cron-pattern.js";
import type { Logger } from "../log.js";
import type { MailIndex } from "../spool/mail-index.js";
import type { MailId } from "../types.js";

export interface RescanDeps {
  index: MailIndex;
  replay(id: MailId, options: { recipients: string[]; attempts: number; reason: string }): Promise<unknown>;
  maxAgeHours: number;
  log: Logger;
  now?: () => number;
  /** Cluster mode: only the leader rescans. */
  runsHere?: () => boolean;
}

export interface RescanResult {
  redriven: number;
  skippedOld: number;
  skippedPermanentOnly: number;
}

export async function rescanFailed(deps: RescanDeps): Promise<RescanResult> {
  const result: RescanResult = { redriven: 0, skippedOld: 0, skippedPermanentOnly: 0 };
  if (deps.runsHere && !deps.runsHere()) return result;
  const oldest = new Date((deps.now ?? Date.now)() - deps.maxAgeHours * 3_600_000).toISOString();
  for (const entry of deps.index.inStates(["partial", "failed"])) {
    const transient = entry.recipients.filter((r) => r.state === "failed-transient").map((r) => r.address);
    if (transient.length === 0) result.skippedPermanentOnly += 1;
    else if (entry.acceptedAt < oldest) result.skippedOld += 1;
    else {
      await deps.replay(entry.id, { recipients: transient, attempts: 1, reason: "failed-spool rescan" });
      result.redriven += 1;
    }
  }
  deps.log.info(result, "failed-spool rescan");
  return result;
}

export function scheduleRescan(pattern: string, deps: RescanDeps): Cron {
  return scheduleCron(
    pattern,
    (error) => deps.log.error({ err: error }, "failed-spool rescan failed"),
    async () => {
      await rescanFailed(deps);
    },
  );
}
