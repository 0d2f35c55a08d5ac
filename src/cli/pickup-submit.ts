// Handing requests to the server: `replay` and `cancel` write their requests as batch files
// (pickup-batch.ts), requestsPerFile to a file, so 20,000 replays are 20 files the server
// ingests with a few group commits — not 20,000 files with an fsync each on both sides.
import { writePickupFile } from "../pickup/pickup-file.js";
import type { ActionRequest } from "../pickup/pickup-action.js";
import type { Progress } from "./progress.js";

export const requestsPerFile = 1_000;

export interface Submitted {
  /** The file's name in pickup/. */
  name: string;
  requests: ActionRequest[];
}

const asJson = (request: ActionRequest) =>
  request.kind === "cancel"
    ? { cancel: request.id }
    : { replay: request.id, ...(request.recipients ? { recipients: request.recipients } : {}) };

export function submitRequests(
  pickupDir: string,
  verb: "replay" | "cancel",
  requests: ActionRequest[],
  progress?: Progress,
): Submitted[] {
  const submitted: Submitted[] = [];
  for (let start = 0; start < requests.length; start += requestsPerFile) {
    const chunk = requests.slice(start, start + requestsPerFile);
    submitted.push({ name: writePickupFile(pickupDir, verb, { requests: chunk.map(asJson) }), requests: chunk });
    progress?.update(start + chunk.length);
  }
  progress?.end();
  return submitted;
}
