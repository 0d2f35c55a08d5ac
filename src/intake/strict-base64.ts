// A JSON attachment's content: strict base64 (RFC 4648 §4). Spaces and line breaks may
// wrap it; what remains must be whole 4-character groups of the base64 alphabet, padding
// only at the end and unused bits zero. Buffer's own decoder skips what it does not know
// and stops at the first '=', so a typo would become other bytes instead of an error.

const wrapping = /[ \t\r\n]+/g;
const alphabet = /^[A-Za-z0-9+/]*={0,2}$/;

/** The decoded bytes, or null when `text` is not strict base64. */
export function decodeStrictBase64(text: string): Buffer | null {
  const compact = text.replace(wrapping, "");
  if (compact.length % 4 !== 0 || !alphabet.test(compact)) return null;
  // the last group's unused bits are zero exactly when it re-encodes to itself
  const last = compact.slice(-4);
  if (Buffer.from(last, "base64").toString("base64") !== last) return null;
  return Buffer.from(compact, "base64");
}
