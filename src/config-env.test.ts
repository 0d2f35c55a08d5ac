// MAILSPOOL_ALLOW and MAILSPOOL_UPSTREAM: a container configured without a mounted app.yaml.
// Each replaces its key, is validated like the file, and an error names the variable.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, maskSecrets, type Config } from "./config.js";
import { tmpDir } from "../test/helpers/tmp-dir.js";

const dir = fs.realpathSync(tmpDir("mailspool-config-env-"));

const withEnv = (env: NodeJS.ProcessEnv, yaml?: string) => {
  const file = path.join(dir, "app.yaml");
  if (yaml === undefined) fs.rmSync(file, { force: true });
  else fs.writeFileSync(file, yaml);
  return loadConfig({ env, cwd: dir });
};

function envError(env: NodeJS.ProcessEnv, yaml?: string): ConfigError {
  try {
    withEnv(env, yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("MAILSPOOL_ALLOW", () => {
  it("replaces server.allow with its CIDRs; loopback stays for the healthcheck", () => {
    const loaded = withEnv(
      { MAILSPOOL_ALLOW: " 192.168.1.0/24, 10.1.2.3 ,fd00::/8" },
      "server: { allow: [172.16.0.0/12] }",
    );
    expect(loaded.config.server.allow).toEqual(["192.168.1.0/24", "10.1.2.3/32", "fd00::/8", "127.0.0.0/8", "::1/128"]);
    expect(loaded.overrides.get("server.allow")).toBe("MAILSPOOL_ALLOW");
    expect(loaded.config.admin.allow).toEqual(["127.0.0.0/8", "::1/128"]);
  });

  it("names the variable for a bad entry and for an empty list", () => {
    const bad = envError({ MAILSPOOL_ALLOW: "10.0.0.0/8,10.0.0.0/33" });
    expect(bad.message).toBe(
      'server.allow[1]: invalid CIDR "10.0.0.0/33" (e.g. 10.0.0.0/8, fd00::/8 or a single IP) (from MAILSPOOL_ALLOW)',
    );
    expect(envError({ MAILSPOOL_ALLOW: " , " }).message).toBe(
      "server.allow: lists no CIDR (comma-separated, e.g. 192.168.1.0/24,10.0.0.0/8) (from MAILSPOOL_ALLOW)",
    );
  });
});

describe("MAILSPOOL_UPSTREAM", () => {
  const upstreamOf = (url: string, yaml?: string) =>
    withEnv({ MAILSPOOL_UPSTREAM: url }, yaml).config.delivery.upstreams;

  it("describes one upstream: smtps = implicit TLS on 465, smtp = STARTTLS on 587", () => {
    expect(upstreamOf("smtps://me:s3cret@smtp.example.com")).toEqual([
      expect.objectContaining({
        name: "smtp.example.com",
        host: "smtp.example.com",
        port: 465,
        secure: true,
        user: "me",
        pass: "s3cret",
      }),
    ]);
    expect(upstreamOf("smtp://smtp.example.com")).toEqual([
      expect.objectContaining({ port: 587, secure: false, requireTLS: true, user: "", pass: "" }),
    ]);
    expect(upstreamOf("SMTP://[::1]:2525/")[0]).toMatchObject({ host: "::1", port: 2525, secure: false });
  });

  it("takes other upstream keys as query parameters, checked like the file", () => {
    const [u] = upstreamOf("smtp://mailpit:1025?requireTLS=false&name=dev&dailyLimit=500&ratePerSecond=0.5");
    expect(u).toMatchObject({
      name: "dev",
      host: "mailpit",
      port: 1025,
      requireTLS: false,
      dailyLimit: 500,
      ratePerSecond: 0.5,
    });
    const typo = envError({ MAILSPOOL_UPSTREAM: "smtp://h?requireTSL=false" });
    expect(typo.message).toBe(
      "delivery.upstreams[0].requireTSL: unknown key (did you mean `requireTLS`?) (from MAILSPOOL_UPSTREAM)",
    );
    expect(envError({ MAILSPOOL_UPSTREAM: "smtp://h?dailyLimit=lots" }).keyPath).toBe(
      "delivery.upstreams[0].dailyLimit",
    );
  });

  it("replaces the file's upstreams", () => {
    const yaml =
      "delivery:\n  upstreams:\n    - { name: a, host: a.example.com }\n    - { name: b, host: b.example.com }\n";
    expect(upstreamOf("smtps://c.example.com", yaml).map((u) => u.host)).toEqual(["c.example.com"]);
  });

  it("round-trips any user and password, percent-decoded, and masks the password", () => {
    const hostname = fc.stringMatching(/^[a-z]([a-z0-9-]{0,9}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,9}[a-z0-9])?){0,3}$/);
    fc.assert(
      fc.property(
        fc.constantFrom("smtp", "smtps"),
        fc.string({ minLength: 1, maxLength: 20, unit: "binary" }),
        fc.string({ minLength: 1, maxLength: 20, unit: "binary" }),
        hostname,
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        (scheme, user, secret, host, port) => {
          const pass = `pw-${secret}`;
          const url = `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${host}${port === undefined ? "" : `:${port}`}`;
          const loaded = withEnv({ MAILSPOOL_UPSTREAM: url });
          const [u] = loaded.config.delivery.upstreams;
          expect(u).toMatchObject({
            host,
            user,
            pass,
            secure: scheme === "smtps",
            port: port ?? (scheme === "smtps" ? 465 : 587),
          });
          const shown = JSON.stringify(maskSecrets(loaded.config)) as string;
          expect((JSON.parse(shown) as Config).delivery.upstreams[0]!.pass).toBe("***");
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses what is not smtp[s]://user:pass@host:port, naming the variable, never echoing the password", () => {
    const secret = "Zx9-topsecret";
    const cases: [string, RegExp][] = [
      [`http://u:${secret}@h`, /got http:\/\//],
      [`smtp.example.com:587`, /got smtp\.example\.com:\/\/|not a URL/],
      [`u:${secret}@h`, /got u:\/\//],
      ["not a url", /this is not a URL/],
      [`smtp://u:${secret}@h:99999`, /this is not a URL/],
      [`smtp://u:${secret}@:25`, /this is not a URL/],
      [`smtp://u:${secret}@h/path`, /a path is not expected/],
      [`smtp://u:${secret}@h#x`, /a #fragment is not expected/],
      [`smtp://u:${secret}@h?port=25`, /give port in the URL itself/],
      [`smtp://u:${secret}@h?name=a&name=b`, /\?name= is given twice/],
      [`smtp://u:%zz${secret}@h`, /invalid %-escape/],
      [`smtp://u:${secret}@h_st`, /invalid host "h_st"/],
    ];
    for (const [url, reason] of cases) {
      const err = envError({ MAILSPOOL_UPSTREAM: url });
      expect(err.keyPath, url).toBe("delivery.upstreams");
      expect(err.message, url).toMatch(/^delivery\.upstreams: must be smtp\[s\]:\/\/user:pass@host:port/);
      expect(err.message, url).toMatch(reason);
      expect(err.message, url).toMatch(/\(from MAILSPOOL_UPSTREAM\)$/);
      expect(err.message, url).not.toContain(secret);
    }
    const half = envError({ MAILSPOOL_UPSTREAM: "smtp://user@h" });
    expect(half.message).toBe(
      "delivery.upstreams[0].pass: user and pass must both be set or both be empty (from MAILSPOOL_UPSTREAM)",
    );
  });

  it("reports its error together with the file's", () => {
    const err = envError({ MAILSPOOL_UPSTREAM: "ftp://h", MAILSPOOL_ALLOW: "nope" }, "log: { level: loud }\n");
    expect(err.issues.map((i) => i.keyPath)).toEqual(["log.level", "delivery.upstreams", "server.allow[0]"]);
  });
});
