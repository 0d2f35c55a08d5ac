// The DKIM signing keys app.yaml names (`dkim: [{ domain, selector, privateKey }]`), read
// and checked with the other files (checkFiles: serve, SIGHUP, check-config): privateKey is
// PEM text (usually from ${VAR}) or the path of a PEM file. nodemailer's signer makes
// rsa-sha256 signatures only, so a key must be RSA, and of at least 1024 bits (RFC 8301).
import { createPublicKey, type KeyObject } from "node:crypto";
import type { ConfigIssue } from "./config-issues.js";
import { parseKey, readPem } from "./config-files.js";

/** A key ready to sign with, for one (canonical) domain. */
export interface DkimKey {
  domain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** Base64 DER SubjectPublicKeyInfo: the p= of the DNS record. */
  publicKey: string;
}

const minBits = 1024;
const pemKey = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const inlineKey = "the PEM key given in place of a path";

/** True when privateKey holds the key itself, not a path to it. */
export const isInlineKey = (privateKey: string) => pemKey.test(privateKey);

function rsaKeyProblem(key: KeyObject, source: string): string | undefined {
  const type = key.asymmetricKeyType;
  if (type !== "rsa")
    return `${source} is ${type === "ed25519" ? "an" : "a"} ${type} key; DKIM signing here is rsa-sha256 only: make an RSA key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < minBits)
    return `${source} is a ${bits}-bit RSA key; verifiers refuse DKIM keys under ${minBits} bits: use 2048`;
  return undefined;
}

/** The key of one raw `privateKey` value (a path already resolved), or why it cannot be used. */
function readKey(privateKey: string): Pick<DkimKey, "privateKey" | "publicKey"> | string {
  // a PEM in an environment variable often arrives with its line breaks written as \n
  const inline = isInlineKey(privateKey);
  const text = inline && !privateKey.includes("\n") ? privateKey.replaceAll("\\n", "\n") : privateKey;
  const read = inline ? text : readPem(privateKey);
  if (typeof read !== "string") return read.problem;
  const source = inline ? inlineKey : privateKey;
  const key = parseKey(source, read);
  if (typeof key === "string") return key;
  const problem = rsaKeyProblem(key, source);
  if (problem) return problem;
  return {
    privateKey: key.export({ type: "pkcs8", format: "pem" }) as string,
    publicKey: (createPublicKey(key).export({ type: "spki", format: "der" }) as Buffer).toString("base64"),
  };
}

export interface DkimKeyCheck {
  /** By index in `dkim`: the key read, or undefined where there is an issue. */
  keys: (Pick<DkimKey, "privateKey" | "publicKey"> | undefined)[];
  issues: ConfigIssue[];
}

/** Reads every `dkim[i].privateKey` of the raw (substituted) config; `abs` resolves a path against app.yaml's folder. */
export function checkDkimKeys(raw: unknown, abs: (p: string) => string): DkimKeyCheck {
  const result: DkimKeyCheck = { keys: [], issues: [] };
  if (!Array.isArray(raw)) return result;
  raw.forEach((entry: unknown, i) => {
    const value = (entry as { privateKey?: unknown } | null)?.privateKey;
    // the schema reports a missing or empty one
    if (typeof value !== "string" || value === "") return;
    const key = readKey(isInlineKey(value) ? value : abs(value));
    if (typeof key === "string")
      result.issues.push({ keyPath: `dkim[${i}].privateKey`, at: ["dkim", i, "privateKey"], message: key });
    else result.keys[i] = key;
  });
  return result;
}

/** What to publish in DNS for a key, as one line: `<selector>._domainkey.<domain> TXT "v=DKIM1; k=rsa; p=…"`. */
export function dnsRecord(key: Pick<DkimKey, "domain" | "selector" | "publicKey">): string {
  return `${key.selector}._domainkey.${key.domain} TXT "v=DKIM1; k=rsa; p=${key.publicKey}"`;
}
