import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, maskSecrets, parseListen, resolveConfigPath, type Config } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-config-")));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Loads `yaml` from <dir>/app.yaml and returns the ConfigError it throws. */
function loadError(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  const file = write("app.yaml", yaml);
  try {
    loadConfig({ explicitPath: file, env, cwd: dir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

const load = (yaml: string, env: NodeJS.ProcessEnv = {}) =>
  loadConfig({ explicitPath: write("app.yaml", yaml), env, cwd: dir }).config;

/** Each issue as "<key path>: <reason>", without its origin. */
const texts = (err: ConfigError) => err.issues.map((i) => `${i.keyPath}: ${i.message}`);

describe("loadConfig defaults", () => {
  it("uses the embedded default when there is no file", () => {
    const { config, source, dataDir } = loadConfig({ env: {}, cwd: dir });
    expect(source).toBeNull();
    expect(dataDir).toBe(path.join(dir, "data"));
    expect(config.spool.dir).toBe(dataDir);
    expect(config.server.listen).toBe("127.0.0.1:8100");
    expect(config.server.allow).toEqual(["127.0.0.0/8", "::1/128"]);
    expect(config.server.tokens).toEqual([]);
    expect(config.server.maxBodyBytes).toBe(26214400);
    expect(config.spool.inlineMaxBytes).toBe(65536);
    expect(config.spool.retentionDays).toBe(30);
    expect(config.delivery).toMatchObject({
      from: "mailspool@localhost",
      workers: 5,
      timezone: "",
      batch: { size: 20, delayMs: 1000, continueOnError: true },
      retry: { attempts: 5, baseSeconds: 30, maxSeconds: 1800 },
      upstreams: [],
    });
    expect(config.failed).toEqual({ rescan: "0 * * * *", maxAgeHours: 120, notify: { webhook: "" } });
    expect(config.smtpIntake).toMatchObject({
      enabled: false,
      listen: "127.0.0.1:2525",
      requireAuth: true,
      keepSender: false,
    });
    expect(config.log).toEqual({ level: "info", bodies: false });
  });

  it("picks up ./app.yaml from cwd and fills upstream defaults", () => {
    write("app.yaml", "delivery:\n  upstreams:\n    - { name: a, host: smtp.example.com }\n");
    const { config, source } = loadConfig({ env: {}, cwd: dir });
    expect(source).toBe(path.join(dir, "app.yaml"));
    expect(config.delivery.upstreams[0]).toEqual({
      name: "a",
      host: "smtp.example.com",
      port: 587,
      secure: false,
      requireTLS: true,
      rejectUnauthorized: true,
      user: "",
      pass: "",
      maxConnections: 5,
      ratePerSecond: 10,
      burst: 20,
      dailyLimit: 0,
    });
  });

  it("app.yaml.example loads as the embedded defaults", () => {
    const example = fileURLToPath(new URL("../app.yaml.example", import.meta.url));
    const fromExample = loadConfig({ explicitPath: example, env: {}, cwd: dir }).config;
    const embedded = loadConfig({ env: {}, cwd: path.dirname(example) }).config;
    expect(fromExample).toEqual(embedded);
  });

  it("treats an empty file and null sections as defaults", () => {
    expect(load("").server.listen).toBe("127.0.0.1:8100");
    expect(load("server:\ndelivery:\n  upstreams:\n").delivery.upstreams).toEqual([]);
  });

  it("minFreeBytes 0 becomes 1.5 x maxBodyBytes; -1 stays off", () => {
    expect(load("server: { maxBodyBytes: 1000 }").spool.minFreeBytes).toBe(1500);
    expect(load("spool: { minFreeBytes: -1 }").spool.minFreeBytes).toBe(-1);
    expect(load("spool: { minFreeBytes: 123 }").spool.minFreeBytes).toBe(123);
    expect(loadError("spool: { minFreeBytes: -2 }").keyPath).toBe("spool.minFreeBytes");
  });

  it("returns a deep-frozen config", () => {
    const loaded = loadConfig({ env: {}, cwd: dir });
    expect(Object.isFrozen(loaded)).toBe(true);
    expect(Object.isFrozen(loaded.config.delivery.retry)).toBe(true);
    expect(Object.isFrozen(loaded.config.server.allow)).toBe(true);
    expect(() => {
      (loaded.config.server as { listen: string }).listen = "0.0.0.0:1";
    }).toThrow(TypeError);
  });
});

describe("environment", () => {
  it("substitutes ${VAR} and ${VAR:-default} inside strings", () => {
    const config = load(
      [
        "delivery:",
        "  from: ${FROM:-relay@example.com}",
        "  upstreams:",
        "    - name: primary",
        "      host: smtp-${SITE}.example.com",
        "      port: ${SMTP_PORT:-465}",
        "      user: ${SMTP_USER}",
        '      pass: "${SMTP_PASS}"',
        "server:",
        "  tokens:",
        '    - { name: crm, token: "$${literal}-${CRM_TOKEN}" }',
      ].join("\n"),
      { SITE: "eu", SMTP_USER: "u", SMTP_PASS: "p4ss", CRM_TOKEN: "0123456789abcdef" },
    );
    expect(config.delivery.from).toBe("relay@example.com");
    expect(config.delivery.upstreams[0]).toMatchObject({
      host: "smtp-eu.example.com",
      port: 465,
      user: "u",
      pass: "p4ss",
    });
    expect(config.server.tokens[0]!.token).toBe("${literal}-0123456789abcdef");
  });

  it("an unset variable without default names the key path", () => {
    const yaml = 'delivery:\n  upstreams:\n    - { name: a, host: h, user: u, pass: "${SMTP_PASS}" }\n';
    const err = loadError(yaml);
    expect(err.keyPath).toBe("delivery.upstreams[0].pass");
    expect(texts(err)).toEqual(["delivery.upstreams[0].pass: environment variable SMTP_PASS is not set"]);
    // an empty variable is not a secret either
    expect(loadError(yaml, { SMTP_PASS: "" }).keyPath).toBe("delivery.upstreams[0].pass");
  });

  it("applies MAILSPOOL_LISTEN, MAILSPOOL_DATA_DIR (relative to cwd) and MAILSPOOL_LOG_LEVEL", () => {
    write("conf/app.yaml", "server: { listen: 127.0.0.1:9000 }\nspool: { dir: ./spool }\nlog: { level: warn }\n");
    const cwd = path.join(dir, "work");
    fs.mkdirSync(cwd);
    const { config, dataDir } = loadConfig({
      explicitPath: path.join(dir, "conf/app.yaml"),
      env: { MAILSPOOL_LISTEN: "0.0.0.0:8100", MAILSPOOL_DATA_DIR: "d", MAILSPOOL_LOG_LEVEL: "debug" },
      cwd,
    });
    expect(config.server.listen).toBe("0.0.0.0:8100");
    expect(dataDir).toBe(path.join(cwd, "d"));
    expect(config.log.level).toBe("debug");
  });

  it("reports a bad override with its variable", () => {
    expect(() => loadConfig({ env: { MAILSPOOL_LOG_LEVEL: "loud" }, cwd: dir })).toThrow(
      /^log\.level: .*MAILSPOOL_LOG_LEVEL/,
    );
  });
});

describe("paths", () => {
  it("resolves relative paths against the config file's folder", () => {
    write("etc/mailspool/app.yaml", "spool: { dir: ./data }\nserver: { tls: { cert: tls/c.pem, key: /abs/k.pem } }\n");
    const { config, source } = loadConfig({ explicitPath: "etc/mailspool/app.yaml", env: {}, cwd: dir });
    expect(source).toBe(path.join(dir, "etc/mailspool/app.yaml"));
    expect(config.spool.dir).toBe(path.join(dir, "etc/mailspool/data"));
    expect(config.server.tls).toEqual({ cert: path.join(dir, "etc/mailspool/tls/c.pem"), key: "/abs/k.pem" });
    expect(config.smtpIntake.tls).toEqual({ cert: "", key: "" });
  });

  it("an explicit -c that does not exist is an error", () => {
    expect(() => loadConfig({ explicitPath: "missing.yaml", env: {}, cwd: dir })).toThrow(ConfigError);
    expect(() => resolveConfigPath("missing.yaml", {}, dir)).toThrow(/^config: config file not found: .*missing\.yaml/);
  });

  it("uses MAILSPOOL_CONFIG before ./app.yaml, and errors when it is missing", () => {
    write("app.yaml", "log: { level: warn }\n");
    const other = write("other/mailspool.yaml", "log: { level: error }\n");
    expect(resolveConfigPath(undefined, {}, dir)).toBe(path.join(dir, "app.yaml"));
    expect(resolveConfigPath(undefined, { MAILSPOOL_CONFIG: other }, dir)).toBe(other);
    expect(loadConfig({ env: { MAILSPOOL_CONFIG: "other/mailspool.yaml" }, cwd: dir }).config.log.level).toBe("error");
    expect(resolveConfigPath(path.join(dir, "app.yaml"), { MAILSPOOL_CONFIG: other }, dir)).toBe(
      path.join(dir, "app.yaml"),
    );
    expect(() => resolveConfigPath(undefined, { MAILSPOOL_CONFIG: "nope.yaml" }, dir)).toThrow(/MAILSPOOL_CONFIG/);
    fs.rmSync(path.join(dir, "app.yaml"));
    expect(resolveConfigPath(undefined, {}, dir)).toBeNull();
  });
});

describe("validation", () => {
  it("rejects an unknown key with its path", () => {
    const err = loadError("delivery:\n  retry: { attempts: 3, maxSecs: 10 }\n");
    expect(err.keyPath).toBe("delivery.retry.maxSecs");
    expect(texts(err)).toEqual(["delivery.retry.maxSecs: unknown key"]);
    expect(loadError("sever: {}\n").keyPath).toBe("sever");
  });

  it("rejects a short token with its path", () => {
    const err = loadError("server:\n  tokens:\n    - { name: crm, token: short }\n");
    expect(err.keyPath).toBe("server.tokens[0].token");
    expect(texts(err)).toEqual(["server.tokens[0].token: must be at least 16 characters"]);
    expect(err.message).not.toContain("short");
    const num = loadError("server:\n  tokens:\n    - { name: crm, token: 12345678901234567 }\n");
    expect(texts(num)).toEqual(["server.tokens[0].token: must be a string, got a number (put it in quotes)"]);
  });

  it("rejects duplicate token and upstream names", () => {
    const t = "0123456789abcdef";
    expect(loadError(`server:\n  tokens: [{ name: a, token: ${t}1 }, { name: a, token: ${t}2 }]\n`).keyPath).toBe(
      "server.tokens[1].name",
    );
    const dup = loadError(`server:\n  tokens: [{ name: a, token: ${t} }, { name: b, token: ${t} }]\n`);
    expect(dup.keyPath).toBe("server.tokens[1].token");
    expect(dup.message).not.toContain(t);
    expect(loadError("delivery:\n  upstreams: [{ name: a, host: x }, { name: a, host: y }]\n").keyPath).toBe(
      "delivery.upstreams[1].name",
    );
  });

  it("validates CIDRs and normalises bare IPs", () => {
    expect(loadError("server: { allow: [10.0.0.0/8, 10.0.0.0/33] }").keyPath).toBe("server.allow[1]");
    expect(loadError("admin: { allow: [not-an-ip] }").keyPath).toBe("admin.allow[0]");
    expect(loadError('smtpIntake: { allow: ["::1/129"] }').keyPath).toBe("smtpIntake.allow[0]");
    expect(loadError("server: { trustProxy: [10.0.0.1/8/1] }").keyPath).toBe("server.trustProxy[0]");
    const config = load('server: { allow: [192.168.1.10, "fd00::1", 10.0.0.0/8], trustProxy: ["::/0"] }');
    expect(config.server.allow).toEqual(["192.168.1.10/32", "fd00::1/128", "10.0.0.0/8"]);
    expect(config.server.trustProxy).toEqual(["::/0"]);
  });

  it("validates listen addresses", () => {
    expect(loadError('server: { listen: "8100" }').keyPath).toBe("server.listen");
    expect(loadError('server: { listen: "::1:8100" }').keyPath).toBe("server.listen");
    expect(loadError('server: { listen: "127.0.0.1:70000" }').keyPath).toBe("server.listen");
    expect(loadError('smtpIntake: { listen: "[zz::1]:25" }').keyPath).toBe("smtpIntake.listen");
    expect(load('server: { listen: "[::1]:8100" }').server.listen).toBe("[::1]:8100");
    expect(parseListen("[::1]:8100")).toEqual({ host: "::1", port: 8100 });
    expect(parseListen("0.0.0.0:25")).toEqual({ host: "0.0.0.0", port: 25 });
    expect(parseListen("localhost:0")).toEqual({ host: "localhost", port: 0 });
    expect(() => parseListen("localhost")).toThrow(ConfigError);
  });

  it("validates other fields with their paths", () => {
    expect(loadError("delivery: { upstreams: [{ name: a, host: h, port: 0 }] }").keyPath).toBe(
      "delivery.upstreams[0].port",
    );
    expect(texts(loadError("delivery: { upstreams: [{ name: a }] }"))).toEqual([
      "delivery.upstreams[0].host: is required",
    ]);
    expect(loadError("delivery: { timezone: Mars/Olympus }").keyPath).toBe("delivery.timezone");
    expect(load("delivery: { timezone: Europe/Paris }").delivery.timezone).toBe("Europe/Paris");
    expect(texts(loadError("log: { level: verbose }"))).toEqual([
      "log.level: must be one of: fatal, error, warn, info, debug, trace, silent",
    ]);
    expect(loadError('failed: { rescan: "  " }').keyPath).toBe("failed.rescan");
    expect(loadError("server: { tls: { cert: c.pem } }").keyPath).toBe("server.tls.key");
    expect(texts(loadError("server: { maxBodyBytes: lots }"))).toEqual([
      "server.maxBodyBytes: must be a number, got a string",
    ]);
    expect(texts(loadError("delivery: { workers: 1.5 }"))).toEqual(["delivery.workers: must be an integer"]);
    expect(load('delivery: { workers: "${W:-7}", batch: { continueOnError: "${C:-false}" } }').delivery).toMatchObject({
      workers: 7,
      batch: { continueOnError: false },
    });
    expect(loadError("delivery: { upstreams: [{ name: a, host: h, user: u }] }").keyPath).toBe(
      "delivery.upstreams[0].pass",
    );
    expect(loadError("smtpIntake: { enabled: true }").keyPath).toBe("smtpIntake.users");
  });

  it("lists every issue in the message, keyPath is the first", () => {
    const err = loadError("server: { listen: nope, maxBodyBytes: -1 }\nlog: { level: loud }\n");
    expect(err.keyPath).toBe("server.listen");
    expect(texts(err)).toEqual([
      'server.listen: must be host:port (IPv6 as [::1]:8100), got "nope"',
      "server.maxBodyBytes: must be ≥ 1",
      "log.level: must be one of: fatal, error, warn, info, debug, trace, silent",
    ]);
  });

  it("reports YAML syntax errors with the line", () => {
    const err = loadError('server:\n  listen: "127.0.0.1:8100\n  allow: []\nspool: [\n');
    expect(err.keyPath).toBe("config");
    expect(err.message).toMatch(/YAML syntax error in .*app\.yaml:\d+:\d+: /);
    expect(loadError("- a\n- b\n").message).toMatch(/top level must be a mapping/);
  });
});

describe("maskSecrets", () => {
  it("hides pass, token, tls keys and webhook secrets, keeps empty strings and the rest", () => {
    const config = load(
      [
        "server:",
        "  tokens: [{ name: crm, token: 0123456789abcdef }]",
        "  tls: { cert: c.pem, key: k.pem }",
        "delivery:",
        "  upstreams: [{ name: a, host: h, user: me, pass: hunter2 }, { name: b, host: h2 }]",
        "smtpIntake: { users: [{ user: app, pass: s3cret }] }",
        'failed: { notify: { webhook: "https://u:pw@hooks.example.com/x" } }',
        `webhooks: [{ url: "https://u:pw2@hooks.example.com/e", secret: "whsec_${"c2VjcmV0".repeat(4)}" }]`,
      ].join("\n"),
    );
    const masked = maskSecrets(config) as Config;
    expect(masked.server.tokens[0]).toEqual({ name: "crm", token: "***", scopes: ["send", "read"] });
    expect(masked.server.tls).toEqual({ cert: path.join(dir, "c.pem"), key: "***" });
    expect(masked.delivery.upstreams[0]).toMatchObject({ user: "me", pass: "***" });
    expect(masked.delivery.upstreams[1]).toMatchObject({ user: "", pass: "" });
    expect(masked.smtpIntake.users[0]).toEqual({ user: "app", pass: "***" });
    expect(masked.smtpIntake.tls.key).toBe("");
    expect(masked.failed.notify.webhook).toBe("https://u:***@hooks.example.com/x");
    expect(masked.webhooks[0]).toMatchObject({ url: "https://u:***@hooks.example.com/e", secret: "***" });
    const text = JSON.stringify(masked);
    for (const secret of ["hunter2", "s3cret", "0123456789abcdef", "pw@", "pw2@", "c2VjcmV0"])
      expect(text).not.toContain(secret);
    expect(config.delivery.upstreams[0]!.pass).toBe("hunter2"); // a copy, not in place
  });
});

describe("broker (cluster mode)", () => {
  it("is off by default, takes an amqp(s) URL and masks its password", () => {
    expect(load("").broker).toEqual({
      url: "",
      prefix: "mailspool",
      maxMessageBytes: 134_217_728,
      confirmTimeoutSeconds: 10,
    });
    const config = load('broker: { url: "amqp://relay:s3cr3t@rabbit:5672/mail", prefix: "prod.mail" }');
    expect(config.broker.url).toBe("amqp://relay:s3cr3t@rabbit:5672/mail");
    const masked = maskSecrets(config) as Config;
    expect(masked.broker.url).toBe("amqp://relay:***@rabbit:5672/mail");
    expect(JSON.stringify(masked)).not.toContain("s3cr3t");
  });

  it("refuses what is not an amqp URL, a bad prefix, and a body that cannot travel as one broker message", () => {
    expect(loadError('broker: { url: "http://rabbit" }').keyPath).toBe("broker.url");
    expect(loadError('broker: { url: "amqp://" }').keyPath).toBe("broker.url");
    expect(loadError('broker: { url: "amqp://r", prefix: "a b" }').keyPath).toBe("broker.prefix");
    const err = loadError('broker: { url: "amqp://r", maxMessageBytes: 1048576 }');
    expect(err.keyPath).toBe("server.maxBodyBytes");
    expect(err.message).toMatch(/broker\.maxMessageBytes/);
    expect(
      load('broker: { url: "amqp://r", maxMessageBytes: 1048576 }\nserver: { maxBodyBytes: 1024 }').broker.url,
    ).toBe("amqp://r");
  });
});
