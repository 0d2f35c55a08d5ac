// The comma-separated address fields of a send request: bare addresses only (a display
// name goes in receiver_name / sender_name), each brought to its canonical form
// (src/address.ts) or refused with the field, the entry and the reason.
import { parseAddress, splitAddressList } from "../address.js";
import { MailspoolError, type FieldError } from "../errors.js";
import type { Address } from "../types.js";

export function parseAddressList(field: string, value: string | undefined, errors: FieldError[]): string[] {
  if (value === undefined || value.trim() === "") return [];
  const addresses: string[] = [];
  for (const [i, raw] of splitAddressList(value).entries()) {
    if (raw.trim() === "") continue;
    const parsed = parseAddress(raw);
    if (parsed.ok) addresses.push(parsed.address);
    else
      errors.push({
        field,
        message: `entry ${i + 1} (${JSON.stringify(raw.trim().slice(0, 100))}) is not a valid address: ${parsed.reason}`,
      });
  }
  return addresses;
}

/** Pairs addresses with display names by position. */
export function withNames(
  field: string,
  addresses: string[],
  names: string | undefined,
  errors: FieldError[],
): Address[] {
  const list = names === undefined || names.trim() === "" ? [] : names.split(",").map((n) => n.trim());
  if (list.length > addresses.length)
    errors.push({ field, message: `has ${list.length} names for ${addresses.length} addresses` });
  return addresses.map((address, i) => (list[i] ? { address, name: list[i] } : { address }));
}

/** Drops repeated recipients across to, cc and bcc (compared in canonical form), keeping the first. */
export function dedupeRecipients(groups: Address[][]): Address[][] {
  const seen = new Set<string>();
  return groups.map((group) =>
    group.filter((a) => {
      if (seen.has(a.address)) return false;
      seen.add(a.address);
      return true;
    }),
  );
}

/** An SMTP envelope's recipients (and a kept sender) in canonical form, de-duplicated; a 400 naming the bad ones. */
export function validateEnvelope(
  envelope: { from?: string; to: string[] },
  maxRecipients: number,
): { to: Address[]; from?: string } {
  const errors: FieldError[] = [];
  const one = (field: string, raw: string): string | undefined => {
    const parsed = parseAddress(raw);
    if (parsed.ok) return parsed.address;
    errors.push({ field, message: `${JSON.stringify(raw.slice(0, 100))} is not a valid address: ${parsed.reason}` });
  };
  const parsed = envelope.to.flatMap((raw, i) => one(`to[${i}]`, raw) ?? []).map((address) => ({ address }));
  const to = dedupeRecipients([parsed])[0]!;
  if (to.length === 0 && errors.length === 0)
    errors.push({ field: "to", message: "at least one recipient is required" });
  if (to.length > maxRecipients)
    errors.push({ field: "to", message: `too many recipients: ${to.length} (at most ${maxRecipients})` });
  const from = envelope.from ? one("from", envelope.from) : undefined;
  if (errors.length) throw new MailspoolError("invalid_param", undefined, { errors });
  return from ? { to, from } : { to };
}
