// The files app.yaml names, checked before anything starts (check-config, serve, SIGHUP):
// each TLS certificate and key readable, PEM, and the key the certificate's (the DKIM keys
// in ./config-dkim.ts use the same readers). They are read as the user running the
// command, so check-config belongs to the user that runs serve.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import fs from "node:fs";
import type { ConfigIssue } from "./config-issues.js";

export interface TlsFiles {
  /** "server.tls" or "smtpIntake.tls". */
  section: readonly [string, "tls"];
  cert: string;
  key: string;
}

export interface FileCheck {
  issues: ConfigIssue[];
  warnings: ConfigIssue[];
}

export function readPem(file: string): string | { problem: string } {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied (run this as the user that runs serve)"
          : code === "EISDIR"
            ? "it is a directory"
            : (error as Error).message;
    return { problem: `cannot read ${file}: ${why}` };
  }
}

function parseCert(file: string, text: string): X509Certificate | string {
  if (!text.includes("-----BEGIN CERTIFICATE-----")) return `${file} is not a PEM certificate (no BEGIN CERTIFICATE)`;
  try {
    return new X509Certificate(text);
  } catch {
    return `${file} holds no valid PEM certificate`;
  }
}

/** The private key in `text`, or why not; `source` names it in the reason (a file path). */
export function parseKey(source: string, text: string): KeyObject | string {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text))
    return `${source} is encrypted; mailspool takes no passphrase: store it decrypted (openssl pkey -in it -out new.pem), readable by the service user only`;
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    return `${source} is not a PEM private key (no BEGIN PRIVATE KEY)`;
  try {
    return createPrivateKey(text);
  } catch {
    return `${source} holds no valid PEM private key`;
  }
}

export function checkTlsFiles(pairs: readonly TlsFiles[], now = Date.now()): FileCheck {
  const result: FileCheck = { issues: [], warnings: [] };
  for (const { section, cert, key } of pairs) {
    const at = (field: "cert" | "key") => ({ keyPath: `${section.join(".")}.${field}`, at: [...section, field] });
    const problem = (field: "cert" | "key", message: string) => result.issues.push({ ...at(field), message });
    const certText = readPem(cert);
    const keyText = readPem(key);
    const certificate = typeof certText === "string" ? parseCert(cert, certText) : certText.problem;
    const privateKey = typeof keyText === "string" ? parseKey(key, keyText) : keyText.problem;
    if (typeof certificate === "string") problem("cert", certificate);
    if (typeof privateKey === "string") problem("key", privateKey);
    if (typeof certificate === "string" || typeof privateKey === "string") continue;
    if (!certificate.checkPrivateKey(privateKey))
      problem("key", `${key} is not the private key of the certificate ${cert}`);
    if (Date.parse(certificate.validTo) < now)
      result.warnings.push({ ...at("cert"), message: `the certificate in ${cert} expired on ${certificate.validTo}` });
  }
  return result;
}
