// The send request's optional extras, checked once for every way in: `send_at` (scheduled
// send), `headers` (allowlisted extra headers), `tags` and `metadata`. In JSON they are a
// string, an object, a list and an object; in a form (urlencoded or multipart) `headers` and
// `metadata` are a JSON string and `tags` a comma-separated list (or the field repeated).
// Each problem is a FieldError naming the field (`send_at`, `headers.<Name>`, `tags[i]`,
// `metadata.<key>`).
import type { FieldError } from "../errors.js";
import type { Mail } from "../types.js";

export type MailExtras = Pick<Mail, "sendAt" | "headers" | "tags" | "metadata">;

export interface SchedulePolicy {
  /** How far ahead `send_at` may be (delivery.maxScheduleDays). */
  maxScheduleDays: number;
  now?: () => number;
}

/** A `send_at` this far in the past (clock skew, a slow client) is sent at once; further back is refused. */
export const pastToleranceMs = 5 * 60_000;
export const maxHeaders = 50;
export const maxHeaderNameLength = 76;
export const maxHeaderValueBytes = 998;
export const maxTags = 20;
export const maxTagLength = 64;
export const maxMetadataKeys = 20;
export const maxMetadataKeyLength = 40;
export const maxMetadataValueLength = 500;

/** The named headers a sender may add besides `X-*` (compared without case). */
const allowedNames = ["List-Unsubscribe", "List-Unsubscribe-Post", "In-Reply-To", "References", "Auto-Submitted"];
const allowed = new Set(allowedNames.map((n) => n.toLowerCase()));
const messageIds = /^<[^<>\s]+>(?:[ \t]+<[^<>\s]+>)*$/;
/** The named headers' own syntax (RFC 5322 msg-ids, RFC 2369, RFC 8058, RFC 3834), compared without case. */
const namedSyntax: Record<string, [RegExp, string]> = {
  "in-reply-to": [messageIds, "message ids in angle brackets, like <id@example.com>"],
  references: [messageIds, "message ids in angle brackets, like <id@example.com>"],
  "list-unsubscribe": [/^<[^<>\s]+>(?:[ \t]*,[ \t]*<[^<>\s]+>)*$/, "URIs in angle brackets, comma separated"],
  "list-unsubscribe-post": [/^List-Unsubscribe=One-Click$/, "exactly List-Unsubscribe=One-Click (RFC 8058)"],
  "auto-submitted": [
    /^(?:no|auto-generated|auto-replied|auto-notified)(?:[ \t]*;.*)?$/i,
    "no, auto-generated, auto-replied or auto-notified",
  ],
};
/** X- headers that stay the relay's: none is set today; the prefix is kept for the relay's own. */
const reservedPrefix = "x-mailspool-";
const headerName = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** C0 controls but HTAB, DEL and the C1 controls: never in a header value. */
const controlChars = /[\0-\x08\x0A-\x1F\x7F-\x9F]/;
const tagSyntax = /^[A-Za-z0-9_.:-]+$/;
const metadataKey = /^[A-Za-z0-9_.-]+$/;
/** RFC 3339 date-time with a mandatory offset (Z or ±hh:mm). */
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** The extras of validated send fields; problems are pushed to `errors`. */
export function readMailExtras(
  fields: { send_at?: unknown; headers?: unknown; tags?: unknown; metadata?: unknown },
  policy: SchedulePolicy,
  errors: FieldError[],
): MailExtras {
  const extras: MailExtras = {};
  const sendAt = fields.send_at === undefined ? undefined : parseSendAt(fields.send_at, policy, errors);
  if (sendAt) extras.sendAt = sendAt;
  const headers = fields.headers === undefined ? undefined : extraHeaders(fields.headers, errors);
  if (headers && Object.keys(headers).length) extras.headers = headers;
  const tags = fields.tags === undefined ? undefined : tagList(fields.tags, errors);
  if (tags?.length) extras.tags = tags;
  const metadata = fields.metadata === undefined ? undefined : metadataMap(fields.metadata, errors);
  if (metadata && Object.keys(metadata).length) extras.metadata = metadata;
  return extras;
}

/**
 * `send_at` as an ISO time in UTC when it is in the future, undefined when it is now or
 * within the tolerance before (sent at once); pushes a `send_at` error otherwise.
 */
export function parseSendAt(value: unknown, policy: SchedulePolicy, errors: FieldError[]): string | undefined {
  const problem = (message: string) => {
    errors.push({ field: "send_at", message });
    return undefined;
  };
  if (typeof value !== "string") return problem("send_at must be an RFC 3339 date-time string");
  const match = rfc3339.exec(value);
  if (!match) return problem("send_at must be an RFC 3339 date-time with an offset, like 2026-12-24T09:00:00+01:00");
  const [, year, month, day, hour, minute, second, , , offsetHours, offsetMinutes] = match;
  const date = new Date(Date.UTC(+year!, +month! - 1, +day!, +hour!, +minute!, +second!));
  const fieldsValid =
    date.getUTCFullYear() === +year! &&
    date.getUTCMonth() === +month! - 1 &&
    date.getUTCDate() === +day! &&
    +hour! < 24 &&
    +minute! < 60 &&
    +second! < 60 &&
    (offsetHours === undefined || (+offsetHours < 24 && +offsetMinutes! < 60));
  const at = Date.parse(value.toUpperCase());
  if (!fieldsValid || Number.isNaN(at)) return problem("send_at is not a valid date-time");
  const now = (policy.now ?? Date.now)();
  if (at < now - pastToleranceMs)
    return problem(`send_at is in the past (more than ${pastToleranceMs / 60_000} minutes before now)`);
  if (at > now + policy.maxScheduleDays * 86_400_000)
    return problem(`send_at is more than ${policy.maxScheduleDays} days ahead (delivery.maxScheduleDays)`);
  return at > now ? new Date(at).toISOString() : undefined;
}

/** Why a header name may not be sent, or null. */
export function headerNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > maxHeaderNameLength || !headerName.test(name))
    return `a header name is 1 to ${maxHeaderNameLength} letters, digits and dashes`;
  const lower = name.toLowerCase();
  if (lower.startsWith(reservedPrefix)) return "X-Mailspool-* headers are the relay's own";
  if (!(lower.startsWith("x-") && lower.length > 2) && !allowed.has(lower))
    return `not an allowed header: X-* or ${allowedNames.join(", ")}`;
  return null;
}

/** Why a header (its name allowed) may not be sent with this value, or null. */
export function headerProblem(name: string, value: unknown): string | null {
  const problem = headerValueProblem(value);
  if (problem) return problem;
  const syntax = namedSyntax[name.toLowerCase()];
  return syntax && !syntax[0].test(value as string) ? `${name} must be ${syntax[1]}` : null;
}

/** Why a header value may not be sent, or null. */
export function headerValueProblem(value: unknown): string | null {
  if (typeof value !== "string") return "a header value must be a string";
  if (value.trim().length === 0) return "a header value must not be empty";
  if (controlChars.test(value)) return "a header value must not contain CR, LF or other control characters";
  if (Buffer.byteLength(value) > maxHeaderValueBytes)
    return `a header value is at most ${maxHeaderValueBytes} bytes (UTF-8)`;
  return null;
}

function extraHeaders(value: unknown, errors: FieldError[]): Record<string, string> | undefined {
  const entries = objectEntries("headers", value, maxHeaders, errors);
  if (!entries) return undefined;
  const headers: [string, string][] = [];
  const seen = new Set<string>();
  for (const [name, v] of entries) {
    const field = `headers.${name.slice(0, 100)}`;
    const problem = headerNameProblem(name) ?? headerProblem(name, v);
    if (problem) errors.push({ field, message: problem });
    else if (seen.has(name.toLowerCase())) errors.push({ field, message: "given more than once (names ignore case)" });
    else headers.push([name, (v as string).trim()]);
    seen.add(name.toLowerCase());
  }
  // fromEntries defines own properties: a key like "__proto__" stays a key
  return Object.fromEntries(headers);
}

function tagList(value: unknown, errors: FieldError[]): string[] | undefined {
  const list = typeof value === "string" ? value.split(",").map((t) => t.trim()) : value;
  if (!Array.isArray(list)) {
    errors.push({ field: "tags", message: "tags must be a list of strings (in a form: comma-separated)" });
    return undefined;
  }
  const tags: string[] = [];
  list.forEach((tag: unknown, i) => {
    if (typeof tag !== "string" || tag.length === 0 || tag.length > maxTagLength || !tagSyntax.test(tag))
      errors.push({
        field: `tags[${i}]`,
        message: `a tag is 1 to ${maxTagLength} characters: letters, digits, _ . : -`,
      });
    else if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > maxTags) errors.push({ field: "tags", message: `at most ${maxTags} tags` });
  return tags;
}

function metadataMap(value: unknown, errors: FieldError[]): Record<string, string> | undefined {
  const entries = objectEntries("metadata", value, maxMetadataKeys, errors);
  if (!entries) return undefined;
  const metadata: [string, string][] = [];
  for (const [key, v] of entries) {
    const field = `metadata.${key.slice(0, 100)}`;
    if (key.length > maxMetadataKeyLength || !metadataKey.test(key))
      errors.push({ field, message: `a key is 1 to ${maxMetadataKeyLength} characters: letters, digits, _ . -` });
    else if (typeof v !== "string" || v.length > maxMetadataValueLength || controlChars.test(v))
      errors.push({
        field,
        message: `a value is a string of at most ${maxMetadataValueLength} characters without control characters`,
      });
    else metadata.push([key, v]);
  }
  return Object.fromEntries(metadata);
}

/** The members of a JSON object (given as an object, or as a JSON string in a form), at most `max` of them. */
function objectEntries(
  field: string,
  value: unknown,
  max: number,
  errors: FieldError[],
): [string, unknown][] | undefined {
  const object = jsonObject(field, value, errors);
  if (!object) return undefined;
  const entries = Object.entries(object);
  if (entries.length <= max) return entries;
  errors.push({ field, message: `at most ${max} members` });
  return undefined;
}

function jsonObject(field: string, value: unknown, errors: FieldError[]): Record<string, unknown> | undefined {
  let object = value;
  if (typeof value === "string") {
    try {
      object = JSON.parse(value);
    } catch {
      object = undefined;
    }
  }
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    errors.push({ field, message: `${field} must be a JSON object (in a form: a JSON string) of strings` });
    return undefined;
  }
  return object as Record<string, unknown>;
}
