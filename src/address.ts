// The one canonical form of a mail address, decided at intake and stored in the record:
// the domain lowercased and in IDNA ASCII form (punycode), the local part as written (case
// kept, Unicode in NFC) with quotes only where RFC 5321 needs them. Every comparison of
// addresses (de-duplication, replay --recipients, the index's fold) uses this form.
import ipaddr from "ipaddr.js";
import { domainToASCII } from "node:url";
import { unsafeText as unsafe } from "./unsafe-text.js";

export type ParsedAddress =
  { ok: true; address: string; local: string; domain: string; utf8Local: boolean } | { ok: false; reason: string };

/** RFC 5321 §4.5.3.1: local part 64 octets, domain 255, path (with its angle brackets) 256. */
export const addressLimits = { local: 64, domain: 255, path: 256 } as const;

const asciiAtext = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
// non-ASCII is allowed (RFC 6531) but never a control, format, unassigned or space character;
// the zero-width (non-)joiners are kept, some scripts need them
const atextChar = new RegExp(`^(?:[${asciiAtext}]|(?![\\p{C}\\p{Z}])[^\\x00-\\x7f]|[\\u200c\\u200d])$`, "u");
const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const topLabel = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const octets = (text: string) => Buffer.byteLength(text, "utf8");

function isDotAtom(text: string): boolean {
  if (text === "") return false;
  return text.split(".").every((atom) => atom !== "" && [...atom].every((c) => atextChar.test(c)));
}

/** The local part in canonical quoting, or a reason it is not one. */
function canonicalLocal(written: string): { local: string } | { reason: string } {
  if (!written.startsWith('"')) {
    return isDotAtom(written)
      ? { local: written }
      : { reason: "the local part has a character that needs quoting, or an empty dot-separated piece" };
  }
  if (written.length < 2 || !written.endsWith('"')) return { reason: "the local part has an unterminated quote" };
  let content = "";
  const inner = [...written.slice(1, -1)];
  for (let i = 0; i < inner.length; i += 1) {
    let c = inner[i]!;
    if (c === "\\") {
      c = inner[++i] ?? "";
      if (!/^[\x20-\x7e]$/.test(c)) return { reason: "the local part has a bad escape in its quoted string" };
    } else if (c === '"' || !/^[\x20-\x7e]$|[^\x00-\x7f]/u.test(c)) {
      return { reason: "the local part's quoted string has a character that is not allowed" };
    }
    // RFC 5321 allows them quoted, but no SMTP client library relays a path containing them
    if (c === "<" || c === ">") return { reason: "the local part contains < or >, which cannot be relayed" };
    content += c;
  }
  if (content === "") return { reason: "the local part is empty" };
  return { local: isDotAtom(content) ? content : `"${content.replace(/["\\]/g, "\\$&")}"` };
}

/** The domain in canonical form (IDNA ASCII, lowercase; an address literal normalised), or a reason. */
export function canonicalDomain(written: string): { domain: string } | { reason: string } {
  if (written.startsWith("[")) {
    const literal = /^\[(?:IPv6:(.+)|(\d{1,3}(?:\.\d{1,3}){3}))\]$/i.exec(written);
    const v6 = literal?.[1];
    const v4 = literal?.[2];
    if (v4 && ipaddr.IPv4.isValidFourPartDecimal(v4)) return { domain: `[${ipaddr.IPv4.parse(v4).toString()}]` };
    if (v6 && ipaddr.IPv6.isValid(v6)) return { domain: `[IPv6:${ipaddr.IPv6.parse(v6).toString()}]` };
    return { reason: "the domain is not a valid address literal like [192.0.2.1] or [IPv6:2001:db8::1]" };
  }
  // lowercased first so every runtime's IDNA tables agree (U+1E9E, final sigma)
  const ascii = domainToASCII(written.toLowerCase());
  if (ascii === "") return { reason: "the domain is not a valid (internationalised) domain name" };
  if (octets(ascii) > addressLimits.domain)
    return { reason: `the domain is longer than ${addressLimits.domain} octets` };
  const labels = ascii.split(".");
  if (labels.length < 2) return { reason: "the domain needs at least two labels, like example.com" };
  if (!labels.every((l) => label.test(l)))
    return {
      reason:
        "the domain has an empty label, a label over 63 characters, or a character other than letters, digits and inner hyphens",
    };
  if (!topLabel.test(labels.at(-1)!)) return { reason: "the domain's last label must start with a letter" };
  return { domain: ascii };
}

/** Parses one bare address (no display name) into its canonical form. */
export function parseAddress(input: string): ParsedAddress {
  // NFC (RFC 6532 §3.1): é typed as one code point or as e + U+0301 is one mailbox
  const written = input.trim().normalize("NFC");
  if (written === "") return { ok: false, reason: "the address is empty" };
  if (unsafe.test(written))
    return { ok: false, reason: "the address contains a control or invisible formatting character" };
  const at = written.lastIndexOf("@");
  if (at <= 0 || at === written.length - 1)
    return { ok: false, reason: "the address needs a local part, an @ and a domain" };
  const local = canonicalLocal(written.slice(0, at));
  if ("reason" in local) return { ok: false, reason: local.reason };
  if (octets(local.local) > addressLimits.local)
    return { ok: false, reason: `the local part is longer than ${addressLimits.local} octets` };
  const domain = canonicalDomain(written.slice(at + 1));
  if ("reason" in domain) return { ok: false, reason: domain.reason };
  const address = `${local.local}@${domain.domain}`;
  if (octets(address) + 2 > addressLimits.path)
    return {
      ok: false,
      reason: `the address is longer than ${addressLimits.path - 2} octets (an SMTP path is at most ${addressLimits.path})`,
    };
  return { ok: true, address, local: local.local, domain: domain.domain, utf8Local: /[^\x00-\x7f]/.test(local.local) };
}

/** The canonical form of an address, or the address itself when it cannot be parsed (old records). */
export function canonicalOrSelf(address: string): string {
  const parsed = parseAddress(address);
  return parsed.ok ? parsed.address : address;
}

/** True when the envelope needs SMTPUTF8: a non-ASCII local part (the domain is always punycode). */
export function needsSmtpUtf8(address: string): boolean {
  return /[^\x00-\x7f]/.test(address);
}

/** Splits a comma-separated list, keeping commas inside quoted local parts. */
export function splitAddressList(value: string): string[] {
  const entries: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i]!;
    if (quoted && c === "\\") {
      current += c + (value[i + 1] ?? "");
      i += 1;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === "," && !quoted) {
      entries.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  entries.push(current);
  return entries;
}
