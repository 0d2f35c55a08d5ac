// DKIM: a message (composed, or relayed as received) signed with the key of its From
// domain by nodemailer's signer (relaxed/relaxed, rsa-sha256), unless it already carries a
// signature with d= that domain (a relayed message its sender signed). The signature is
// a function of the bytes and the key alone (RSA PKCS#1 v1.5 is deterministic and no t=
// is set), so the same message is always sent with the same signature.
import addressparser from "nodemailer/lib/addressparser/index.js";
import DKIM from "nodemailer/lib/dkim/index.js";
import { canonicalDomain } from "../address.js";
import type { DkimKey } from "../config-dkim.js";

/** RFC 6376 §5.4.1's list (nodemailer's default) and Content-Disposition, the other MIME header a top part may have. */
export const signedHeaderFields = [
  "From",
  "Sender",
  "Reply-To",
  "Subject",
  "Date",
  "Message-ID",
  "To",
  "Cc",
  "MIME-Version",
  "Content-Type",
  "Content-Transfer-Encoding",
  "Content-ID",
  "Content-Description",
  "Content-Disposition",
  "Resent-Date",
  "Resent-From",
  "Resent-Sender",
  "Resent-To",
  "Resent-Cc",
  "Resent-Message-ID",
  "In-Reply-To",
  "References",
  "List-Id",
  "List-Help",
  "List-Unsubscribe",
  "List-Subscribe",
  "List-Post",
  "List-Owner",
  "List-Archive",
];

/** The header fields of a message as [lowercase name, unfolded value]; none when it has no header section. */
function headerFields(raw: Buffer): [string, string][] {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  const end = crlf === -1 ? lf : lf === -1 ? crlf : Math.min(crlf, lf);
  const head = raw.subarray(0, end === -1 ? raw.length : end).toString("utf8");
  const fields: [string, string][] = [];
  for (const line of head.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    // a first line that is no field means no header section (message-head.ts decides the same)
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trimEnd())) {
      if (fields.length === 0) return [];
      continue;
    }
    fields.push([line.slice(0, colon).trimEnd().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return fields;
}

const domainOf = (address: string): string | undefined => {
  const at = address.lastIndexOf("@");
  if (at <= 0) return undefined;
  const canonical = canonicalDomain(address.slice(at + 1));
  return "domain" in canonical ? canonical.domain : undefined;
};

/** The one domain of the message's one From field, canonical; undefined when there is not exactly one. */
function fromDomain(fields: [string, string][]): string | undefined {
  const from = fields.filter(([name]) => name === "from");
  if (from.length !== 1) return undefined;
  const domains = new Set(addressparser(from[0]![1], { flatten: true }).map((a) => domainOf(a.address)));
  const [domain] = domains;
  return domains.size === 1 ? domain : undefined;
}

/** True when a DKIM-Signature field has d= `domain` (tags compared in canonical form). */
function signedFor(fields: [string, string][], domain: string): boolean {
  return fields.some(([name, value]) => {
    if (name !== "dkim-signature") return false;
    const tag = value
      .replace(/\s+/g, "")
      .split(";")
      .find((t) => t.startsWith("d="));
    return tag !== undefined && domainOf(`x@${tag.slice(2)}`) === domain;
  });
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `raw` with a DKIM-Signature field in front, or `raw` itself when no key is for its From domain or it is signed already. */
export async function signMessage(raw: Buffer, keys: readonly DkimKey[]): Promise<Buffer> {
  if (keys.length === 0) return raw;
  const fields = headerFields(raw);
  const domain = fromDomain(fields);
  const key = domain === undefined ? undefined : keys.find((k) => k.domain === domain);
  if (!key || signedFor(fields, key.domain)) return raw;
  const signer = new DKIM({
    domainName: key.domain,
    keySelector: key.selector,
    privateKey: key.privateKey,
    headerFieldNames: signedHeaderFields.join(":"),
  });
  return collect(signer.sign(raw));
}
