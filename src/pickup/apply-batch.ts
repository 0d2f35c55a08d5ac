// A batch file carried out: every request through the same actions as a single file, all
// started together so their records share the spool's group commit (a few fdatasyncs for
// thousands of replays, not one each). Each request's record carries its own idempotency key,
// `pickup:<name>#<index>`: after a crash or an I/O error part-way, the file is ingested
// again and only what is missing is done. A request the actions refuse (the mail was sent
// meanwhile, …) is reported in the result, not fatal to the others; a spool error is, so
// the file stays for the next scan.
import { MailspoolError } from "../errors.js";
import { refusalText } from "../delivery/action-rules.js";
import type { PickupDeps } from "./apply-pickup-file.js";
import type { BatchOutcome } from "./batch-results.js";
import type { ActionRequest } from "./pickup-action.js";
import { pickupKey, pickupKeyWindowMs } from "./used-name.js";

const maxReasonLength = 1_000;

export const batchItemKey = (name: string, at: number): string => `${pickupKey(name)}#${at}`;

/** Which requests an earlier ingestion of this file already did; throws 409 when the name served other bytes. */
function doneBefore(deps: PickupDeps, name: string, count: number, requestHash: string): boolean[] {
  const since = new Date(Date.now() - pickupKeyWindowMs);
  return Array.from({ length: count }, (_, at) => {
    const used = deps.spool.index.keyUse(batchItemKey(name, at), since);
    if (!used) return false;
    if (used.requestHash === requestHash) return true;
    throw new MailspoolError(
      "conflict",
      `the name was already used for a batch file with other content at ${used.ts}, within the last 24 h; ` +
        "each pickup file needs a new name (drop this one again under a name not used before)",
    );
  });
}

async function carryOut(deps: PickupDeps, name: string, request: ActionRequest, at: number, requestHash: string) {
  const reason = `pickup ${name}`;
  const idempotencyKey = batchItemKey(name, at);
  if (request.kind === "replay") {
    const recipients = await deps.actions.replay(request.id, {
      recipients: request.recipients,
      reason,
      idempotencyKey,
      requestHash,
    });
    return { id: request.id, action: "replay", outcome: "replayed", recipients: recipients.length } as const;
  }
  const cancelled = await deps.actions.cancel(request.id, reason, idempotencyKey, requestHash);
  return { id: request.id, action: "cancel", outcome: cancelled ? "cancelled" : "already-cancelled" } as const;
}

export async function applyBatch(
  deps: PickupDeps,
  name: string,
  requests: ActionRequest[],
  requestHash: string,
): Promise<BatchOutcome[]> {
  const done = doneBefore(deps, name, requests.length, requestHash);
  const settled = await Promise.allSettled(
    requests.map((request, at) =>
      done[at]
        ? ({ id: request.id, action: request.kind, outcome: "done-before" } as const)
        : carryOut(deps, name, request, at, requestHash),
    ),
  );
  const fatal = settled.find(
    (s) => s.status === "rejected" && !(s.reason instanceof MailspoolError && s.reason.status < 500),
  );
  if (fatal) throw (fatal as PromiseRejectedResult).reason;
  return settled.map((s, at): BatchOutcome => {
    if (s.status === "fulfilled") return s.value;
    const { id, kind } = requests[at]!;
    return { id, action: kind, outcome: "refused", reason: refusalText(s.reason).slice(0, maxReasonLength) };
  });
}
