import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const dir = tmpDir("mailspool-smtp-config-");

function load(yaml: string) {
  const file = path.join(dir, "app.yaml");
  fs.writeFileSync(file, yaml);
  return loadConfig({ explicitPath: file, env: {}, cwd: dir }).config.smtpIntake;
}

describe("smtpIntake limits in app.yaml", () => {
  it("has defaults for the connection count, the DATA time and the AUTH failures", () => {
    expect(load("")).toMatchObject({
      maxClients: 100,
      dataTimeoutSeconds: 300,
      authFailures: { perConnection: 3, perAddress: 10, windowSeconds: 900 },
    });
    expect(load('smtpIntake: { dataTimeoutSeconds: "60", authFailures: { perAddress: 5 } }')).toMatchObject({
      dataTimeoutSeconds: 60,
      authFailures: { perConnection: 3, perAddress: 5, windowSeconds: 900 },
    });
  });

  it.each([
    ["smtpIntake: { maxClients: 0 }", "smtpIntake.maxClients"],
    ["smtpIntake: { dataTimeoutSeconds: 0.5 }", "smtpIntake.dataTimeoutSeconds"],
    ["smtpIntake: { dataTimeoutSeconds: 7200 }", "smtpIntake.dataTimeoutSeconds"],
    ["smtpIntake: { authFailures: { perConnection: 0 } }", "smtpIntake.authFailures.perConnection"],
    ["smtpIntake: { authFailures: { windowSeconds: -1 } }", "smtpIntake.authFailures.windowSeconds"],
    ["smtpIntake: { authFailures: { perHour: 3 } }", "smtpIntake.authFailures.perHour"],
  ])("refuses %s naming %s", (yaml, keyPath) => {
    const error = (() => {
      try {
        load(yaml);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).keyPath).toBe(keyPath);
  });
});
