// What check-config, serve and SIGHUP refuse before anything starts: croner patterns (parsed
// as the rescan job parses them), webhook URLs, TLS files, listener clashes; the upstream
// port that follows `secure`; every problem at once, with file, line and "did you mean".
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import leven from "leven";
import { describe, expect, it } from "vitest";
import { encryptKey, makeCertificate } from "../test/helpers/tls-files.js";
import { ConfigError, loadConfig, type LoadOptions } from "./config.js";
import { checkTlsFiles } from "./config-files.js";
import { knownKeys, suggestKey } from "./config-keys.js";
import { scheduleRescan } from "./jobs/rescan-failed.js";
import { createLogger } from "./log.js";
import { MailIndex } from "./spool/mail-index.js";
import { tmpDir } from "../test/helpers/tmp-dir.js";

const dir = fs.realpathSync(tmpDir("mailspool-config-checks-"));
const file = path.join(dir, "app.yaml");

function load(yaml: string, options: LoadOptions = {}) {
  fs.writeFileSync(file, yaml);
  return loadConfig({ explicitPath: file, env: {}, cwd: dir, ...options });
}

function loadError(yaml: string, options: LoadOptions = {}): ConfigError {
  try {
    load(yaml, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

const texts = (err: ConfigError) => err.issues.map((i) => `${i.keyPath}: ${i.message}`);

describe("failed.rescan", () => {
  it("refuses what croner refuses, naming the key", () => {
    for (const pattern of ["every hour", "61 * * * *", "0 * * *", "* * * * * * * *", "0 0 * * FOO"]) {
      const err = loadError(`failed: { rescan: "${pattern}" }`);
      expect(err.keyPath).toBe("failed.rescan");
      expect(err.message).toMatch(new RegExp(`^${file}:1: failed\\.rescan: not a croner pattern: `));
    }
    expect(texts(loadError('failed: { rescan: "0 0 30 2 *" }'))).toEqual([
      "failed.rescan: this pattern never fires (no such date)",
    ]);
  });

  it("accepts a pattern exactly when the rescan job can schedule it", () => {
    const field = fc.oneof(
      fc.constantFrom("*", "0", "*/5", "1-3", "59", "60", "MON", "L", "?", "1,2", "x", "-1", "7"),
      fc.nat(70).map(String),
    );
    const deps = { index: new MailIndex(), replay: async () => undefined, maxAgeHours: 1, log: createLogger("silent") };
    fc.assert(
      fc.property(fc.array(field, { minLength: 4, maxLength: 7 }), (fields) => {
        const pattern = fields.join(" ");
        let scheduled = true;
        try {
          const job = scheduleRescan(pattern, deps);
          scheduled = job.nextRun() !== null;
          job.stop();
        } catch {
          scheduled = false;
        }
        let loaded = true;
        try {
          load(`failed: { rescan: "${pattern}" }`);
        } catch (err) {
          expect((err as ConfigError).keyPath).toBe("failed.rescan");
          loaded = false;
        }
        expect(loaded).toBe(scheduled);
      }),
      { numRuns: 150 },
    );
  });
});

describe("failed.notify.webhook", () => {
  it("must be an absolute http(s) URL", () => {
    for (const url of [
      "hooks.example.com/x",
      "ftp://hooks.example.com/x",
      "http://",
      "https:// x",
      "javascript:1",
      "/x",
    ])
      expect(loadError(`failed: { notify: { webhook: "${url}" } }`).keyPath).toBe("failed.notify.webhook");
    for (const url of ["", "https://hooks.example.com/x", "http://10.0.0.1:8080/a?b=c", "HTTPS://[::1]:9/x"])
      expect(load(`failed: { notify: { webhook: "${url}" } }`).config.failed.notify.webhook).toBe(url);
  });
});

describe("webhooks", () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
  const hook = (fields: string) => `webhooks: [{ url: "https://hooks.example.com/m", ${fields} }]`;

  it("takes a whsec_ secret of 24 to 64 bytes, every event by default and 24 hours", () => {
    expect(load(hook(`secret: "${secret}"`)).config.webhooks).toEqual([
      {
        url: "https://hooks.example.com/m",
        events: ["sent", "deferred", "failed", "partial", "cancelled"],
        secret,
        maxAgeHours: 24,
      },
    ]);
    const unpadded = `whsec_${Buffer.alloc(64, 1).toString("base64").replace(/=+$/, "")}`;
    expect(load(hook(`secret: "${unpadded}", events: [failed]`)).config.webhooks[0]!.events).toEqual(["failed"]);
  });

  it("refuses a bare, malformed, short or long secret, an unknown event, a bad URL, a repeated URL", () => {
    const bad: [string, string, RegExp][] = [
      [hook('secret: "hunter2hunter2hunter2hunter2"'), "webhooks[0].secret", /whsec_ followed by base64/],
      [hook('secret: "whsec_not base64!"'), "webhooks[0].secret", /not base64/],
      [hook(`secret: "whsec_${Buffer.alloc(16).toString("base64")}"`), "webhooks[0].secret", /24 to 64 bytes.*not 16/],
      [hook(`secret: "whsec_${Buffer.alloc(65).toString("base64")}"`), "webhooks[0].secret", /not 65/],
      [hook("events: [sent]"), "webhooks[0].secret", /./],
      [hook(`secret: "${secret}", events: [bounced]`), "webhooks[0].events[0]", /./],
      [hook(`secret: "${secret}", events: []`), "webhooks[0].events", /at least one/],
      [`webhooks: [{ url: "hooks.example.com", secret: "${secret}" }]`, "webhooks[0].url", /http\(s\) URL/],
      [
        `webhooks: [{ url: "https://h.example/x", secret: "${secret}" }, { url: "https://h.example/x", secret: "${secret}" }]`,
        "webhooks[1].url",
        /./,
      ],
    ];
    for (const [yaml, keyPath, message] of bad) {
      const error = loadError(yaml);
      expect(error.keyPath, yaml).toBe(keyPath);
      expect(error.message, yaml).toMatch(message);
    }
  });
});

describe("TLS files (checkFiles: serve, SIGHUP, check-config)", () => {
  const good = makeCertificate(dir, "good");
  const other = makeCertificate(dir, "other");
  const garbage = path.join(dir, "garbage.pem");
  fs.writeFileSync(garbage, "not a pem\n");
  const encrypted = encryptKey(good.key, path.join(dir, "encrypted-key.pem"));
  const tlsYaml = (section: string, cert: string, key: string) =>
    `${section}:\n  tls: { cert: "${cert}", key: "${key}" }\n`;
  const fileCheck = (section: string, cert: string, key: string) =>
    texts(loadError(tlsYaml(section, cert, key), { checkFiles: true }));

  it("accepts a readable certificate with its own key, relative to the file", () => {
    const config = load(tlsYaml("server", "./good-cert.pem", "./good-key.pem"), { checkFiles: true }).config;
    expect(config.server.tls).toEqual(good);
  });

  it("refuses a missing, unreadable or non-PEM file, an encrypted or foreign key, naming the key", () => {
    for (const section of ["server", "smtpIntake"]) {
      expect(fileCheck(section, "./missing.pem", good.key)).toEqual([
        `${section}.tls.cert: cannot read ${path.join(dir, "missing.pem")}: no such file`,
      ]);
      expect(fileCheck(section, dir, good.key)).toEqual([`${section}.tls.cert: cannot read ${dir}: it is a directory`]);
      expect(fileCheck(section, garbage, garbage)).toEqual([
        `${section}.tls.cert: ${garbage} is not a PEM certificate (no BEGIN CERTIFICATE)`,
        `${section}.tls.key: ${garbage} is not a PEM private key (no BEGIN PRIVATE KEY)`,
      ]);
      expect(fileCheck(section, good.key, good.cert)).toEqual([
        `${section}.tls.cert: ${good.key} is not a PEM certificate (no BEGIN CERTIFICATE)`,
        `${section}.tls.key: ${good.cert} is not a PEM private key (no BEGIN PRIVATE KEY)`,
      ]);
      expect(fileCheck(section, good.cert, other.key)).toEqual([
        `${section}.tls.key: ${other.key} is not the private key of the certificate ${good.cert}`,
      ]);
      expect(fileCheck(section, good.cert, encrypted)[0]).toMatch(
        new RegExp(`^${section}\\.tls\\.key: .*encrypted-key\\.pem is encrypted; mailspool takes no passphrase`),
      );
    }
  });

  it("never shows a key's content", () => {
    const err = loadError(tlsYaml("server", good.cert, other.key), { checkFiles: true });
    expect(err.message).not.toContain("PRIVATE KEY-----\n");
    expect(err.message).not.toContain(fs.readFileSync(other.key, "utf8").split("\n")[1]);
  });

  it("leaves the files alone without checkFiles (commands that only read the spool)", () => {
    expect(load(tlsYaml("server", "./missing.pem", "./missing-key.pem")).config.server.tls.cert).toBe(
      path.join(dir, "missing.pem"),
    );
  });

  it("warns about an expired certificate", () => {
    const pair = { section: ["server", "tls"] as const, ...good };
    expect(checkTlsFiles([pair]).warnings).toEqual([]);
    const later = checkTlsFiles([pair], Date.now() + 3 * 86_400_000);
    expect(later.issues).toEqual([]);
    expect(later.warnings.map((w) => w.keyPath)).toEqual(["server.tls.cert"]);
    expect(later.warnings[0]!.message).toMatch(/expired on /);
  });
});

describe("upstream port and secure", () => {
  const upstream = (fields: string) => load(`delivery:\n  upstreams:\n    - { name: a, host: h${fields} }\n`);

  it("defaults to 465 for implicit TLS and 587 otherwise; port 465 alone means implicit TLS", () => {
    fc.assert(
      fc.property(
        fc.option(fc.boolean(), { nil: undefined }),
        fc.option(fc.constantFrom(25, 465, 587, 2525, 1), { nil: undefined }),
        (secure, port) => {
          const given = `${secure === undefined ? "" : `, secure: ${secure}`}${port === undefined ? "" : `, port: ${port}`}`;
          const loaded = upstream(given);
          const u = loaded.config.delivery.upstreams[0]!;
          const implicitTls = secure ?? port === 465;
          expect(u.secure).toBe(implicitTls);
          expect(u.port).toBe(port ?? (implicitTls ? 465 : 587));
          const mismatch = (u.secure && u.port === 587) || (!u.secure && u.port === 465);
          expect(loaded.warnings.map((w) => w.keyPath)).toEqual(mismatch ? ["delivery.upstreams[0].port"] : []);
        },
      ),
    );
  });

  it("takes a host name or IP alone as host", () => {
    for (const host of ["smtp.example.com:587", "smtp://smtp.example.com", "smtp example.com", "-h", "[::1]"])
      expect(texts(loadError(`delivery: { upstreams: [{ name: a, host: "${host}" }] }`)), host).toEqual([
        'delivery.upstreams[0].host: must be a host name or IP address alone (the port goes in port:, no "smtp://")',
      ]);
    for (const host of ["smtp.example.com", "localhost", "10.0.0.5", "::1", "fd00::25", "MAIL-1.Example.org"])
      expect(load(`delivery: { upstreams: [{ name: a, host: "${host}" }] }`).config.delivery.upstreams[0]!.host).toBe(
        host,
      );
  });

  it("names the file and line of a mismatch warning", () => {
    const { warnings } = upstream(", secure: true, port: 587");
    expect(warnings[0]!.origin).toEqual({ file, line: 3 });
    expect(warnings[0]!.message).toMatch(/did you mean port 465\?/);
  });
});

describe("listeners", () => {
  it("refuses an SMTP intake on the HTTP port", () => {
    const smtp = (listen: string, server = "127.0.0.1:8100") =>
      `server: { listen: "${server}" }\nsmtpIntake: { enabled: true, requireAuth: false, listen: "${listen}" }\n`;
    expect(texts(loadError(smtp("127.0.0.1:8100")))).toEqual([
      "smtpIntake.listen: uses the same address and port as server.listen (127.0.0.1:8100)",
    ]);
    expect(loadError(smtp("0.0.0.0:8100")).keyPath).toBe("smtpIntake.listen");
    expect(loadError(smtp("127.0.0.1:2525", "[::]:2525")).keyPath).toBe("smtpIntake.listen");
    expect(load(smtp("127.0.0.2:8100")).config.smtpIntake.listen).toBe("127.0.0.2:8100");
    expect(load(smtp("127.0.0.1:0", "127.0.0.1:0")).config.smtpIntake.enabled).toBe(true);
    expect(load(smtp("127.0.0.1:8100").replace("enabled: true", "enabled: false")).config.smtpIntake.enabled).toBe(
      false,
    );
  });
});

describe("every error at once", () => {
  it("reports unset variables, unknown keys, schema and file errors together, in file order", () => {
    const yaml = [
      "server:",
      "  alow: [10.0.0.0/8]",
      "  tls: { cert: ./nope.pem, key: ./nope-key.pem }",
      "delivery:",
      "  workers: many",
      "  upstream: []",
      "  upstreams:",
      '    - { name: a, host: h, user: me, pass: "${SMTP_PASS}", port: "${SMTP_PORT}" }',
      "failed:",
      '  rescan: "every hour"',
    ].join("\n");
    const err = loadError(yaml, { checkFiles: true });
    expect(err.keyPath).toBe("server.alow");
    const lines = err.message.split("\n");
    expect(lines[0]).toBe("8 config errors:");
    expect(lines.slice(1)).toEqual([
      `  ${file}:2: server.alow: unknown key (did you mean \`allow\`?)`,
      `  ${file}:3: server.tls.cert: cannot read ${dir}/nope.pem: no such file`,
      `  ${file}:3: server.tls.key: cannot read ${dir}/nope-key.pem: no such file`,
      `  ${file}:5: delivery.workers: must be a number, got a string`,
      `  ${file}:6: delivery.upstream: unknown key (did you mean \`upstreams\`?)`,
      `  ${file}:8: delivery.upstreams[0].pass: environment variable SMTP_PASS is not set`,
      `  ${file}:8: delivery.upstreams[0].port: environment variable SMTP_PORT is not set`,
      expect.stringMatching(new RegExp(`^  ${file}:10: failed\\.rescan: not a croner pattern: `)),
    ]);
  });

  it("one error is one line naming the file and line", () => {
    expect(loadError("log:\n  level: loud\n").message).toBe(
      `${file}:2: log.level: must be one of: fatal, error, warn, info, debug, trace, silent`,
    );
  });
});

describe("did you mean", () => {
  it("suggests the closest known key at the same level, only when close", () => {
    expect(texts(loadError("sever: {}"))).toEqual(["sever: unknown key (did you mean `server`?)"]);
    expect(texts(loadError("smtpIntake: { Enabled: true, requireAuth: false }"))).toEqual([
      "smtpIntake.Enabled: unknown key (did you mean `enabled`?)",
    ]);
    expect(texts(loadError("delivery: { upstreams: [{ name: a, host: h, passwd: x, user: u, pass: p }] }"))).toEqual([
      "delivery.upstreams[0].passwd: unknown key (did you mean `pass`?)",
    ]);
    expect(texts(loadError("server: { colour: blue }"))).toEqual(["server.colour: unknown key"]);
  });

  const levels: (string | number)[][] = [[]];
  for (let i = 0; i < levels.length; i++)
    for (const key of knownKeys(levels[i]!)) {
      const child = [...levels[i]!, key];
      if (knownKeys(child).length) levels.push(child);
      if (knownKeys([...child, 0]).length) levels.push([...child, 0]);
    }

  it("turns a one-letter slip in any known key into that key (or one as close)", () => {
    const edit = fc.record({
      op: fc.constantFrom("drop", "add", "swap", "case"),
      at: fc.nat(),
      ch: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz"),
    });
    fc.assert(
      fc.property(fc.constantFrom(...levels), fc.nat(), edit, (level, pick, { op, at, ch }) => {
        const keys = knownKeys(level);
        const key = keys[pick % keys.length]!;
        const i = at % key.length;
        const typo =
          op === "drop"
            ? key.slice(0, i) + key.slice(i + 1)
            : op === "add"
              ? key.slice(0, i) + ch + key.slice(i)
              : op === "swap"
                ? key.slice(0, i) + ch + key.slice(i + 1)
                : key.slice(0, i) +
                  (key[i] === key[i]!.toUpperCase() ? key[i]!.toLowerCase() : key[i]!.toUpperCase()) +
                  key.slice(i + 1);
        fc.pre(!keys.includes(typo) && typo.length >= 3);
        const suggestion = suggestKey(typo, keys);
        expect(suggestion).toBeDefined();
        expect(leven(typo.toLowerCase(), suggestion!.toLowerCase())).toBeLessThanOrEqual(
          leven(typo.toLowerCase(), key.toLowerCase()),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("suggests nothing for a word far from every key", () => {
    fc.assert(
      fc.property(fc.constantFrom(...levels), fc.stringMatching(/^[a-z]{1,14}$/), (level, word) => {
        const keys = knownKeys(level);
        const max = Math.max(1, Math.floor(word.length / 3));
        const close = keys.some((k) => leven(word, k.toLowerCase()) <= max);
        expect(suggestKey(word, keys) !== undefined).toBe(close);
      }),
      { numRuns: 300 },
    );
  });
});
