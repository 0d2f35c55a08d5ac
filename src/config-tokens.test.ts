// server.tokens[].scopes: the default, the allowed names and the key path of every refusal.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";
import { TOKEN_SCOPES } from "./config-schema.js";
import { tmpDir } from "../test/helpers/tmp-dir.js";

const dir = tmpDir("mailspool-config-tokens-");

const TOKEN = "0123456789abcdef";
const tokensYaml = (entries: string[]) => `server:\n  tokens:\n${entries.map((e) => `    - ${e}\n`).join("")}`;

/** Each issue as "<key path>: <reason>", without its origin. */
const texts = (err: ConfigError) => err.issues.map((i) => `${i.keyPath}: ${i.message}`);

function load(yaml: string) {
  const file = path.join(dir, "app.yaml");
  fs.writeFileSync(file, yaml);
  return loadConfig({ explicitPath: file, env: {}, cwd: dir }).config;
}

function loadError(yaml: string): ConfigError {
  try {
    load(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("server.tokens[].scopes", () => {
  it("defaults to send and read; admin only when listed", () => {
    const config = load(
      tokensYaml([`{ name: app, token: ${TOKEN}1 }`, `{ name: ops, token: ${TOKEN}2, scopes: [admin] }`]),
    );
    expect(config.server.tokens.map((t) => t.scopes)).toEqual([["send", "read"], ["admin"]]);
  });

  it("keeps any non-empty subset of send, read, admin (each once, in a fixed order)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKEN_SCOPES), { minLength: 1, maxLength: 5 }), (listed) => {
        const config = load(tokensYaml([`{ name: app, token: ${TOKEN}, scopes: [${listed.join(", ")}] }`]));
        expect(config.server.tokens[0]!.scopes).toEqual(TOKEN_SCOPES.filter((s) => listed.includes(s)));
      }),
      { numRuns: 40 },
    );
  });

  it("refuses an unknown scope, naming its path", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z_-]{0,11}$/).filter((s) => !(TOKEN_SCOPES as readonly string[]).includes(s)),
        fc.nat(2),
        (unknown, at) => {
          const scopes = ["send", "read"];
          scopes.splice(at, 0, unknown);
          const listed = scopes.map((s) => JSON.stringify(s)).join(", ");
          const err = loadError(tokensYaml([`{ name: app, token: ${TOKEN}, scopes: [${listed}] }`]));
          expect(err.keyPath).toBe(`server.tokens[0].scopes[${at}]`);
          expect(texts(err)).toEqual([`server.tokens[0].scopes[${at}]: must be one of: send, read, admin`]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("refuses an empty list and a scalar", () => {
    const empty = loadError(tokensYaml([`{ name: a, token: ${TOKEN}1 }`, `{ name: b, token: ${TOKEN}2, scopes: [] }`]));
    expect(texts(empty)).toEqual(["server.tokens[1].scopes: must list at least one of send, read, admin"]);
    expect(texts(loadError(tokensYaml([`{ name: a, token: ${TOKEN}, scopes: admin }`])))).toEqual([
      "server.tokens[0].scopes: must be a list, got a string",
    ]);
  });

  it("refuses a token that could never arrive in a Bearer header, without echoing it", () => {
    for (const token of ["0123456789 abcdef", "0123456789abcdéf", "0123456789\tabcdef"]) {
      const err = loadError(tokensYaml([`{ name: a, token: ${JSON.stringify(token)} }`]));
      expect(texts(err)).toEqual(["server.tokens[0].token: must be printable ASCII without spaces"]);
    }
  });
});
