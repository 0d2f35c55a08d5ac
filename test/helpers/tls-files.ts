// Self-signed certificates and keys made with openssl, for tests of the TLS settings.
import { execFileSync } from "node:child_process";
import path from "node:path";

export interface TlsPair {
  cert: string;
  key: string;
}

/** Writes <name>-cert.pem and <name>-key.pem (RSA, 1 day, CN and SAN 127.0.0.1) into dir. */
export function makeCertificate(dir: string, name: string): TlsPair {
  const pair = { cert: path.join(dir, `${name}-cert.pem`), key: path.join(dir, `${name}-key.pem`) };
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", pair.key, "-out", pair.cert, "-days", "1"].concat([
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]),
    { stdio: "ignore" },
  );
  return pair;
}

/** The same key, encrypted with a passphrase (which mailspool cannot take). */
export function encryptKey(key: string, out: string): string {
  execFileSync("openssl", ["pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out", out], { stdio: "ignore" });
  return out;
}
