// DKIM in tests: RSA keys written as PEM files, and a real verifier (mailauth) whose DNS
// lookups are answered from the public keys the test holds, so no query leaves the machine.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { dkimVerify } from "mailauth";
import { expect } from "vitest";

export interface TestKey {
  /** PKCS#8 PEM. */
  pem: string;
  file: string;
  /** Base64 DER SPKI (the DNS record's p=). */
  publicKey: string;
}

/** A new RSA key (2048 bits unless told) written to <dir>/<name>.pem. */
export function makeDkimKey(dir: string, name: string, bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const file = path.join(dir, `${name}.pem`);
  fs.writeFileSync(file, pem, { mode: 0o600 });
  return { pem, file, publicKey: (publicKey.export({ type: "spki", format: "der" }) as Buffer).toString("base64") };
}

export interface Signature {
  domain: string;
  selector: string;
  result: string;
  signedHeaders: string[];
  format: string;
  algo: string;
}

/**
 * Every DKIM-Signature of `message`, verified; `published` maps "<selector>._domainkey.<domain>"
 * to the public key served for it (a name not in it does not exist).
 */
export async function verifyDkim(message: Buffer, published: Record<string, string>): Promise<Signature[]> {
  const resolver = async (name: string, type: string) => {
    const key = type === "TXT" ? published[name] : undefined;
    if (key === undefined) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: "ENOTFOUND" });
    return [[`v=DKIM1; k=rsa; p=${key}`]];
  };
  const { results } = await dkimVerify(message, { resolver });
  return results.map((r) => ({
    domain: r.signingDomain ?? "",
    selector: r.selector ?? "",
    result: r.status.result,
    signedHeaders: r.signingHeaders?.keys.split(": ").join(":").toLowerCase().split(":") ?? [],
    format: r.format ?? "",
    algo: r.algo ?? "",
  }));
}

/** `message` carries exactly one signature, and it passes: relaxed/relaxed rsa-sha256 over (at least) these headers. */
export async function expectOneValidSignature(
  message: Buffer,
  published: Record<string, string>,
  signer: { domain: string; selector: string },
  headers = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"],
): Promise<void> {
  const signatures = await verifyDkim(message, published);
  expect(signatures).toHaveLength(1);
  expect(signatures[0]).toMatchObject({ ...signer, result: "pass", format: "relaxed/relaxed", algo: "rsa-sha256" });
  expect(signatures[0]!.signedHeaders).toEqual(expect.arrayContaining(headers));
}
