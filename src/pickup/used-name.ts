// A pickup file's name is its idempotency key (`pickup:<name>`, for 24 h) only so that a
// crash between spooling a file and removing it ingests the file once. The record a file
// produced keeps the sha256 of its bytes (requestHash), so a file found under a used name is
// told apart: the same bytes are that crash's leftover (removed), other bytes are another
// request that must not be lost (refused to rejected/, saying the name needs to change).
import { createHash } from "node:crypto";
import { MailspoolError } from "../errors.js";
import type { MailIndex } from "../spool/mail-index.js";
import type { MailId } from "../types.js";

export const pickupKeyWindowMs = 24 * 3600 * 1000;

export const pickupKey = (name: string): string => `pickup:${name}`;

export const fileHash = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/**
 * The mail a file with these bytes was already ingested as under this name, or undefined when
 * the name is unused within the window; throws 409 when the name was used for other bytes.
 */
export function ingestedBefore(index: MailIndex, name: string, hash: string, now: number): MailId | undefined {
  const used = index.keyUse(pickupKey(name), new Date(now - pickupKeyWindowMs));
  if (!used) return undefined;
  // a record written before file hashes were kept has none: it is taken to be this file, as it was then
  if (used.requestHash === undefined || used.requestHash === hash) return used.id;
  throw new MailspoolError(
    "conflict",
    `the name was already used for mail ${used.id} at ${used.ts}, within the last 24 h, by a file with other content; ` +
      "each pickup file needs a new name (drop this one again under a name not used before)",
  );
}
