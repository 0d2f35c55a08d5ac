// `dkim:` in app.yaml as check-config, serve and SIGHUP read it (checkFiles): a key from a
// file (relative to app.yaml) or from ${VAR}, canonical domains, the DNS record; and each
// key that cannot sign refused with its key path, the key's text never shown.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDkimKey } from "../test/helpers/dkim.js";
import { encryptKey } from "../test/helpers/tls-files.js";
import { tmpDir } from "../test/helpers/tmp-dir.js";
import { dnsRecord } from "./config-dkim.js";
import { ConfigError, loadConfig, maskSecrets, type LoadOptions } from "./config.js";

const dir = fs.realpathSync(tmpDir("mailspool-config-dkim-"));
const file = path.join(dir, "app.yaml");
const key = makeDkimKey(dir, "key");

function load(yaml: string, options: LoadOptions = {}) {
  fs.writeFileSync(file, yaml);
  return loadConfig({ explicitPath: file, env: {}, cwd: dir, checkFiles: true, ...options });
}

function issues(yaml: string, options: LoadOptions = {}): string[] {
  try {
    load(yaml, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.keyPath}: ${i.message}`);
  }
  throw new Error("expected a ConfigError");
}

const entry = (domain: string, selector: string, privateKey: string) =>
  `  - { domain: "${domain}", selector: "${selector}", privateKey: "${privateKey}" }`;
const dkim = (...entries: string[]) => `dkim:\n${entries.join("\n")}\n`;

describe("dkim keys", () => {
  it("reads a key file relative to app.yaml, keeps the domain canonical and gives the DNS record", () => {
    const loaded = load(dkim(entry("Bücher.Example", "mail2026", "./key.pem")));
    expect(loaded.config.dkim).toEqual([
      { domain: "xn--bcher-kva.example", selector: "mail2026", privateKey: key.file },
    ]);
    expect(loaded.dkimKeys).toEqual([
      { domain: "xn--bcher-kva.example", selector: "mail2026", privateKey: key.pem, publicKey: key.publicKey },
    ]);
    expect(dnsRecord(loaded.dkimKeys[0]!)).toBe(
      `mail2026._domainkey.xn--bcher-kva.example TXT "v=DKIM1; k=rsa; p=${key.publicKey}"`,
    );
  });

  it("takes the PEM from ${VAR}, with real or written-out line breaks, and masks it for display", () => {
    for (const pem of [key.pem, key.pem.replaceAll("\n", "\\n")]) {
      const loaded = load(dkim(entry("example.org", "s1", "${DKIM_KEY}")), { env: { DKIM_KEY: pem } });
      expect(loaded.dkimKeys[0]!.publicKey).toBe(key.publicKey);
      expect(JSON.stringify(maskSecrets(loaded.config))).not.toContain("PRIVATE KEY");
      expect((maskSecrets(loaded.config) as { dkim: { privateKey: string }[] }).dkim[0]!.privateKey).toBe("***");
    }
    const byPath = load(dkim(entry("example.org", "s1", "${DKIM_KEY}")), { env: { DKIM_KEY: "key.pem" } });
    expect((maskSecrets(byPath.config) as { dkim: { privateKey: string }[] }).dkim[0]!.privateKey).toBe(key.file);
  });

  it("reads no key without checkFiles (commands that only read the spool)", () => {
    const loaded = load(dkim(entry("example.org", "s1", "./missing.pem")), { checkFiles: false });
    expect(loaded.dkimKeys).toEqual([]);
  });

  it("refuses a key that cannot sign, naming its key path, never showing its text", () => {
    const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    fs.writeFileSync(path.join(dir, "ed.pem"), ed);
    makeDkimKey(dir, "small", 512);
    fs.writeFileSync(
      path.join(dir, "garbage.pem"),
      "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
    );
    encryptKey(key.file, path.join(dir, "encrypted.pem"));
    const found = issues(
      dkim(
        entry("a.example", "s", "./missing.pem"),
        entry("b.example", "s", "./ed.pem"),
        entry("c.example", "s", "./small.pem"),
        entry("d.example", "s", "./garbage.pem"),
        entry("e.example", "s", "./encrypted.pem"),
        entry("f.example", "s", dir),
        entry("g.example", "s", "${INLINE}"),
      ),
      { env: { INLINE: ed } },
    );
    expect(found).toEqual([
      `dkim[0].privateKey: cannot read ${dir}/missing.pem: no such file`,
      `dkim[1].privateKey: ${dir}/ed.pem is an ed25519 key; DKIM signing here is rsa-sha256 only: make an RSA key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)`,
      `dkim[2].privateKey: ${dir}/small.pem is a 512-bit RSA key; verifiers refuse DKIM keys under 1024 bits: use 2048`,
      `dkim[3].privateKey: ${dir}/garbage.pem holds no valid PEM private key`,
      expect.stringMatching(/^dkim\[4\]\.privateKey: .*encrypted\.pem is encrypted; mailspool takes no passphrase/),
      `dkim[5].privateKey: cannot read ${dir}: it is a directory`,
      expect.stringMatching(/^dkim\[6\]\.privateKey: the PEM key given in place of a path is an ed25519 key/),
    ]);
    expect(found.join("\n")).not.toContain(ed.split("\n")[1]);
  });

  it("refuses a bad domain or selector, a repeated domain in any spelling, and a missing key", () => {
    expect(
      issues(
        dkim(
          entry("example", "s", "./key.pem"),
          entry("[192.0.2.1]", "s", "./key.pem"),
          entry("a.example", "bad selector", "./key.pem"),
          '  - { domain: "b.example", selector: "s" }',
        ),
      ),
    ).toEqual([
      "dkim[0].domain: the domain needs at least two labels, like example.com",
      "dkim[1].domain: must be a domain name, not an address literal",
      "dkim[2].selector: must be one or more DNS labels (letters, digits, - and _), like mail2026",
      "dkim[3].privateKey: is required",
    ]);
    expect(
      issues(dkim(entry("bücher.example", "s", "./key.pem"), entry("XN--BCHER-KVA.example", "t", "./key.pem"))),
    ).toEqual(['dkim[1].domain: duplicate dkim domain "xn--bcher-kva.example" (also at index 0)']);
  });
});
