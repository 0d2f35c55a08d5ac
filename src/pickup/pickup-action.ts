// One replay or cancel request, read strictly: exactly {"replay": "<id>", "recipients"?: ["…", …]}
// or {"cancel": "<id>"}. Any other key, a wrong type, a repeated key, or both "replay" and
// "cancel" is refused with every offending key named, because acting on the part that was
// understood would do more (a replay to everyone) or something else (a replay instead of a
// cancel) than was asked. Used for a whole replay/cancel file and for each item of a batch file.
import type { FieldError } from "../errors.js";
import type { MailId } from "../types.js";

export type ActionRequest = { kind: "replay"; id: MailId; recipients?: string[] } | { kind: "cancel"; id: MailId };

export const actionShapes = {
  replay: '{"replay": "<id>", "recipients": ["…", …]} (recipients optional)',
  cancel: '{"cancel": "<id>"}',
};

/** Mail ids are ULIDs: anything else names no mail, and is not echoed back at length. */
const mailId = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A key as it may appear in a reason: bounded, control characters escaped, so it stays on its line. */
export function keyName(key: string): string {
  const characters = [...key];
  const shown = characters.length > 100 ? `${characters.slice(0, 100).join("")}…` : key;
  return shown.replace(/[\0-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function idError(key: "replay" | "cancel", value: unknown): FieldError | null {
  if (typeof value !== "string") return { field: key, message: `must be a mail id (a string), not ${typeOf(value)}` };
  return mailId.test(value)
    ? null
    : {
        field: key,
        message: "must be a mail id: a ULID of 26 characters (0-9, A-Z), as `mailspool spool ls` prints it",
      };
}

function recipientsError(value: unknown): FieldError | null {
  const field = "recipients";
  if (!Array.isArray(value))
    return { field, message: `must be a list of addresses (["a@example.com", …]), not ${typeOf(value)}` };
  if (value.length === 0)
    return { field, message: 'must name at least one recipient; leave "recipients" out to replay to every unsent one' };
  const at = value.findIndex((r) => typeof r !== "string" || r.trim() === "");
  if (at < 0) return null;
  const item = value[at];
  return {
    field: `${field}[${at}]`,
    message: typeof item === "string" ? "must not be empty" : `must be an address (a string), not ${typeOf(item)}`,
  };
}

/**
 * The request the members hold, or every error found (fields prefixed with `prefix`, as
 * `requests[3].`). The members hold "replay" or "cancel"; `what` names the thing in messages.
 */
export function actionRequestOf(
  members: [string, unknown][],
  prefix = "",
  what = "file",
): { request: ActionRequest } | { errors: FieldError[] } {
  const has = (key: string) => members.some(([k]) => k === key);
  if (has("replay") && has("cancel"))
    return {
      errors: [
        { field: `${prefix}cancel`, message: `given with "replay"; put a replay and a cancel in separate ${what}s` },
      ],
    };
  const kind = has("replay") ? "replay" : "cancel";
  const allowed = kind === "replay" ? ["replay", "recipients"] : ["cancel"];
  const errors = new Map<string, FieldError>();
  const note = (error: FieldError | null) =>
    error && errors.set(`${error.field}\0${error.message}`, { ...error, field: `${prefix}${error.field}` });
  const seen = new Set<string>();
  for (const [key, value] of members) {
    if (!allowed.includes(key))
      note({ field: keyName(key), message: `unknown key; a ${kind} ${what} is exactly ${actionShapes[kind]}` });
    else if (seen.has(key)) note({ field: key, message: "given more than once" });
    else note(key === "recipients" ? recipientsError(value) : idError(kind, value));
    seen.add(key);
  }
  if (errors.size) return { errors: [...errors.values()] };
  const request = Object.fromEntries(members) as { replay?: string; cancel?: string; recipients?: string[] };
  return {
    request:
      kind === "replay"
        ? { kind, id: request.replay!, ...(request.recipients ? { recipients: request.recipients } : {}) }
        : { kind, id: request.cancel! },
  };
}
