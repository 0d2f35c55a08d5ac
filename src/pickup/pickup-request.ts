// The members of a pickup file → what it asks for: a replay file (exactly
// {"replay": "<id>", "recipients"?: […]}), a cancel file (exactly {"cancel": "<id>"}), a batch
// file (exactly {"requests": [those, …]}), or — with none of these keys — a new mail, held to
// the HTTP JSON field rules by intake. Anything in between is refused with every offending
// key named (pickup-action.ts, pickup-batch.ts), never half understood.
import { MailspoolError, type FieldError } from "../errors.js";
import { actionRequestOf, keyName, type ActionRequest } from "./pickup-action.js";
import { batchRequestsOf, batchShape } from "./pickup-batch.js";

export type { ActionRequest } from "./pickup-action.js";

export type PickupRequest =
  ActionRequest | { kind: "batch"; requests: ActionRequest[] } | { kind: "mail"; members: [string, unknown][] };

function batchOf(members: [string, unknown][]): PickupRequest {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const [key] of members) {
    if (key === "replay" || key === "cancel")
      errors.push({ field: key, message: `given with "requests"; a batch file is exactly ${batchShape}` });
    else if (key !== "requests")
      errors.push({ field: keyName(key), message: `unknown key; a batch file is exactly ${batchShape}` });
    else if (seen.has(key)) errors.push({ field: key, message: "given more than once" });
    seen.add(key);
  }
  const read = errors.length ? null : batchRequestsOf(members.find(([k]) => k === "requests")![1]);
  if (read && "requests" in read) return { kind: "batch", requests: read.requests };
  throw new MailspoolError("invalid_param", "invalid batch file", { errors: read?.errors ?? errors });
}

export function pickupRequestOf(members: [string, unknown][]): PickupRequest {
  const has = (key: string) => members.some(([k]) => k === key);
  if (has("requests")) return batchOf(members);
  if (!has("replay") && !has("cancel")) return { kind: "mail", members };
  const read = actionRequestOf(members);
  if ("request" in read) return read.request;
  const both = has("replay") && has("cancel");
  throw new MailspoolError(
    "invalid_param",
    both ? "a pickup file is a replay or a cancel, not both" : `invalid ${has("replay") ? "replay" : "cancel"} file`,
    { errors: read.errors },
  );
}
