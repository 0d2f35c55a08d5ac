// Strict parsing of the comma-separated address fields: bare addresses only (a display
// name goes in receiver_name / sender_name), each checked with zod's email rule.
import { z } from "zod";
import type { FieldError } from "../errors.js";
import type { Address } from "../types.js";

const emailSchema = z.email();

export function parseAddressList(field: string, value: string | undefined, errors: FieldError[]): string[] {
  if (value === undefined || value.trim() === "") return [];
  const addresses: string[] = [];
  for (const [i, raw] of value.split(",").entries()) {
    const address = raw.trim();
    if (address === "") continue;
    if (!emailSchema.safeParse(address).success) errors.push({ field, message: `entry ${i + 1} is not a valid email address: ${JSON.stringify(address.slice(0, 100))}` });
    else addresses.push(address);
  }
  return addresses;
}

/** Pairs addresses with display names by position. */
export function withNames(field: string, addresses: string[], names: string | undefined, errors: FieldError[]): Address[] {
  const list = names === undefined || names.trim() === "" ? [] : names.split(",").map((n) => n.trim());
  if (list.length > addresses.length) errors.push({ field, message: `has ${list.length} names for ${addresses.length} addresses` });
  return addresses.map((address, i) => (list[i] ? { address, name: list[i] } : { address }));
}

/** Drops repeated addresses (case-insensitive) across to, cc and bcc, keeping the first. */
export function dedupeRecipients(groups: Address[][]): Address[][] {
  const seen = new Set<string>();
  return groups.map((group) =>
    group.filter((a) => {
      const key = a.address.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
  );
}
