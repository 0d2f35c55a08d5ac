// Parsers of single config values the schema (./config-schema.ts) checks with: listen
// addresses, CIDRs, time zones, webhook URLs. Pure.
import ipaddr from "ipaddr.js";

/** Splits "host:port" / "[v6]:port"; returns a reason string when invalid. Port 0 = ephemeral. */
export function splitListen(listen: string): { host: string; port: number } | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  if (!m) return `must be host:port (IPv6 as [::1]:8100), got "${listen}"`;
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (m[1] !== undefined && !ipaddr.IPv6.isValid(host)) return `invalid IPv6 address "${host}"`;
  if (m[2] !== undefined) {
    if (/^[\d.]+$/.test(host) && !ipaddr.IPv4.isValidFourPartDecimal(host)) return `invalid IPv4 address "${host}"`;
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return `invalid host "${host}"`;
  }
  if (port > 65535) return `port must be 0..65535, got ${port}`;
  return { host, port };
}

/** "10.0.0.0/8" stays as is; a bare IP becomes "/32" or "/128"; null when invalid. */
export function normalizeCidr(value: string): string | null {
  const [addr = "", prefix, extra] = value.trim().split("/");
  if (extra !== undefined) return null;
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(addr);
  if (!v4 && !ipaddr.IPv6.isValid(addr)) return null;
  if (prefix === undefined) return `${addr}/${v4 ? 32 : 128}`;
  if (!/^\d{1,3}$/.test(prefix)) return null;
  try {
    ipaddr.parseCIDR(`${addr}/${prefix}`);
    return `${addr}/${prefix}`;
  } catch {
    return null;
  }
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** An absolute http(s) URL with a host, as fetch() will take it. */
/**
 * A Standard Webhooks secret: `whsec_` then base64 of 24 to 64 random bytes. Its bytes key
 * the HMAC, or why the text is not one. A bare string is refused: every verifier library
 * base64-decodes what follows the prefix, so both ends must agree on the bytes.
 */
export function webhookSecretBytes(secret: string): Buffer | string {
  const example = "e.g. whsec_$(openssl rand -base64 32)";
  if (!secret.startsWith("whsec_")) return `must be whsec_ followed by base64 (${example})`;
  const text = secret.slice("whsec_".length);
  const bytes = Buffer.from(text, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || bytes.toString("base64").replace(/=+$/, "") !== text.replace(/=+$/, ""))
    return `the part after whsec_ is not base64 (${example})`;
  if (bytes.length < 24 || bytes.length > 64)
    return `must hold 24 to 64 bytes after whsec_, not ${bytes.length} (${example})`;
  return bytes;
}

export function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value) || /\s/.test(value)) return false;
  try {
    return new URL(value).hostname !== "";
  } catch {
    return false;
  }
}

const wildcardHosts = ["0.0.0.0", "::"];

/** Two listeners that could not both bind: same non-ephemeral port on the same or a wildcard host. */
export function listensOverlap(a: string, b: string): boolean {
  const [x, y] = [splitListen(a), splitListen(b)];
  if (typeof x === "string" || typeof y === "string" || x.port === 0 || x.port !== y.port) return false;
  return x.host === y.host || wildcardHosts.includes(x.host) || wildcardHosts.includes(y.host);
}

/** A DNS name or an IP address (IPv6 without brackets), as an SMTP upstream's host. */
export function isHostName(value: string): boolean {
  return /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value) || ipaddr.IPv6.isValid(value);
}
