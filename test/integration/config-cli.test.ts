// check-config and serve on the real binary: one validation before anything starts, every
// error at once naming key and file, exit 1 for config errors and 2 for usage errors, the
// effective upstream port, MAILSPOOL_UPSTREAM masked.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";
import { makeCertificate } from "../helpers/tls-files.js";

const broken = [
  "server:",
  "  alow: [10.0.0.0/8]",
  "delivery:",
  "  upstream: []",
  "  upstreams:",
  '    - { name: primary, host: smtp.example.com, user: me, pass: "${SMTP_PASS}" }',
  "failed:",
  '  rescan: "every hour"',
  '  notify: { webhook: "hooks.example.com/mail" }',
].join("\n");

describe("check-config", () => {
  it("lists every error at once with file, line and key, and exits 1", () => {
    const dir = fs.realpathSync(tmpDir());
    const file = writeConfig(dir, broken);
    const result = runCli(["check-config"], dir, { SMTP_PASS: "" });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("mailspool: 5 config errors:\n");
    for (const line of [
      `${file}:2: server.alow: unknown key (did you mean \`allow\`?)`,
      `${file}:4: delivery.upstream: unknown key (did you mean \`upstreams\`?)`,
      `${file}:6: delivery.upstreams[0].pass: environment variable SMTP_PASS is not set (it is empty)`,
      `${file}:8: failed.rescan: not a croner pattern: `,
      `${file}:9: failed.notify.webhook: must be "" or an http(s) URL`,
    ])
      expect(result.stderr).toContain(line);
  });

  it("serve refuses the same config before anything starts: no data directory, no port", () => {
    const dir = tmpDir();
    writeConfig(dir, 'failed:\n  rescan: "every hour"\n');
    const serve = runCli(["serve"], dir, { MAILSPOOL_LISTEN: "127.0.0.1:0" });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/app\.yaml:2: failed\.rescan: not a croner pattern/);
    expect(fs.existsSync(path.join(dir, "data"))).toBe(false);
    expect(runCli(["check-config"], dir).code).toBe(1);
  });

  it("checks the TLS files as serve would: a key that is not the certificate's", () => {
    const dir = tmpDir();
    const a = makeCertificate(dir, "a");
    const b = makeCertificate(dir, "b");
    writeConfig(dir, `server:\n  tls: { cert: "${a.cert}", key: "${b.key}" }\n`);
    for (const command of ["check-config", "serve"]) {
      const result = runCli([command], dir, { MAILSPOOL_LISTEN: "127.0.0.1:0" });
      expect(result.code, command).toBe(1);
      expect(result.stderr).toContain(`server.tls.key: ${b.key} is not the private key of the certificate ${a.cert}`);
    }
    expect(fs.existsSync(path.join(dir, "data"))).toBe(false);
    writeConfig(dir, `server:\n  tls: { cert: "${a.cert}", key: "${a.key}" }\n`);
    expect(runCli(["check-config"], dir).code).toBe(0);
  });

  it("prints the effective upstream port: 465 for implicit TLS, 587 otherwise", () => {
    const dir = tmpDir();
    writeConfig(
      dir,
      [
        "delivery:",
        "  upstreams:",
        "    - { name: tls, host: smtp.example.com, secure: true }",
        "    - { name: starttls, host: smtp.example.org }",
      ].join("\n"),
    );
    const result = runCli(["check-config"], dir);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.delivery.upstreams.map((u: { port: number }) => u.port)).toEqual([465, 587]);
    expect(result.stderr).toContain("upstream tls: smtp.example.com:465, implicit TLS");
    expect(result.stderr).toContain("upstream starttls: smtp.example.org:587, STARTTLS required");
  });

  it("configures a container from the environment alone, masking the password", () => {
    const dir = tmpDir();
    const result = runCli(["check-config"], dir, {
      MAILSPOOL_UPSTREAM: "smtps://relay%40example.com:p%40ss-Very-Secret@smtp.example.com",
      MAILSPOOL_ALLOW: "192.168.1.0/24",
    });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.delivery.upstreams).toEqual([
      expect.objectContaining({
        host: "smtp.example.com",
        port: 465,
        secure: true,
        user: "relay@example.com",
        pass: "***",
      }),
    ]);
    expect(printed.server.allow).toEqual(["192.168.1.0/24", "127.0.0.0/8", "::1/128"]);
    expect(result.stderr).toContain(
      "from the environment: server.allow (MAILSPOOL_ALLOW), delivery.upstreams (MAILSPOOL_UPSTREAM)",
    );
    expect(result.stdout + result.stderr).not.toContain("Very-Secret");
  });

  it("names the variable of a bad MAILSPOOL_UPSTREAM without echoing it", () => {
    const dir = tmpDir();
    const result = runCli(["check-config"], dir, { MAILSPOOL_UPSTREAM: "smtp://me:Very-Secret@mail host" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /delivery\.upstreams: must be smtp\[s\]:\/\/user:pass@host:port.*\(from MAILSPOOL_UPSTREAM\)/,
    );
    expect(result.stderr).not.toContain("Very-Secret");
  });

  it("exits 2 for a usage error, 1 for a config error", () => {
    const dir = tmpDir();
    expect(runCli(["check-config", "--bogus"], dir).code).toBe(2);
    expect(runCli(["check-config", "-c", "missing.yaml"], dir).code).toBe(1);
    writeConfig(dir, "server: [");
    expect(runCli(["check-config"], dir).code).toBe(1);
  });
});
