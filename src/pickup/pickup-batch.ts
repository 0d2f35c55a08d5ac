// A batch file: many replays and cancels in one pickup file, exactly
// {"requests": [{"replay": "<id>", "recipients"?: [...]}, {"cancel": "<id>"}, …]}, each item
// read as strictly as a file of its own (pickup-action.ts). `mailspool replay` and `cancel`
// write these, so 20,000 replays are a few files ingested with a few group commits instead
// of 20,000 files with an fsync each. A mail is named at most once per file (the order of a
// replay and a cancel of one mail would matter), and a file holds at most maxBatchRequests.
import type { FieldError } from "../errors.js";
import { actionRequestOf, typeOf, type ActionRequest } from "./pickup-action.js";

export const maxBatchRequests = 10_000;
export const batchShape = '{"requests": [{"replay": "<id>"}, {"cancel": "<id>"}, …]}';

/** At most this many errors are listed: a reason file stays small whatever the file holds. */
const maxListedErrors = 20;

function itemErrors(item: unknown, at: number, firstAt: Map<string, number>): FieldError[] | ActionRequest {
  const field = `requests[${at}]`;
  if (typeof item !== "object" || item === null || Array.isArray(item))
    return [{ field, message: `must be an object, {"replay": "<id>"} or {"cancel": "<id>"}, not ${typeOf(item)}` }];
  const members = Object.entries(item);
  if (!members.some(([k]) => k === "replay" || k === "cancel"))
    return [{ field, message: 'must hold "replay" or "cancel"' }];
  const read = actionRequestOf(members, `${field}.`, "request");
  if ("errors" in read) return read.errors;
  const earlier = firstAt.get(read.request.id);
  if (earlier !== undefined)
    return [
      {
        field: `${field}.${read.request.kind}`,
        message: `names mail ${read.request.id} again (first in requests[${earlier}]); a file names each mail once`,
      },
    ];
  firstAt.set(read.request.id, at);
  return read.request;
}

/** The requests of a batch file's "requests" value, or every error (the first maxListedErrors). */
export function batchRequestsOf(value: unknown): { requests: ActionRequest[] } | { errors: FieldError[] } {
  const field = "requests";
  if (!Array.isArray(value))
    return { errors: [{ field, message: `must be a list of requests, not ${typeOf(value)}` }] };
  if (value.length === 0) return { errors: [{ field, message: "must hold at least one request" }] };
  if (value.length > maxBatchRequests)
    return {
      errors: [
        {
          field,
          message: `holds ${value.length} requests; at most ${maxBatchRequests} per file (split them over several files)`,
        },
      ],
    };
  const requests: ActionRequest[] = [];
  const errors: FieldError[] = [];
  const firstAt = new Map<string, number>();
  for (const [at, item] of value.entries()) {
    const read = itemErrors(item, at, firstAt);
    if (Array.isArray(read)) errors.push(...read);
    else requests.push(read);
  }
  if (errors.length === 0) return { requests };
  if (errors.length <= maxListedErrors) return { errors };
  return {
    errors: [
      ...errors.slice(0, maxListedErrors),
      { field, message: `and ${errors.length - maxListedErrors} more error(s) not listed` },
    ],
  };
}
