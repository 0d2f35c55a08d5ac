import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("info", { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("log secrets", () => {
  it("masks authorization at the top and pass, token, password, authorization one level down", () => {
    const { log, lines } = capture();
    const upstream = { host: "smtp.example.com", user: "me", pass: "hunter2" };
    log.info(
      { authorization: "Bearer abc", upstream, client: { token: "t0k", password: "pw", authorization: "x", ok: 1 } },
      "m",
    );
    expect(lines[0]).toMatchObject({
      authorization: "***",
      upstream: { host: "smtp.example.com", user: "me", pass: "***" },
      client: { token: "***", password: "***", authorization: "***", ok: 1 },
      msg: "m",
    });
    // the caller's object is not changed
    expect(upstream.pass).toBe("hunter2");
  });

  it("leaves lines without secrets as they are, and masks an error's own secret keys without losing the error", () => {
    const { log, lines } = capture();
    log.info(
      { mailId: "01ABC", attachments: 2, nested: { deeper: { pass: "kept as pino redact kept it" } } },
      "mail accepted",
    );
    expect(lines[0]).toMatchObject({
      mailId: "01ABC",
      attachments: 2,
      nested: { deeper: { pass: "kept as pino redact kept it" } },
    });
    const error = Object.assign(new Error("auth failed"), { pass: "hunter2", code: "EAUTH" });
    log.error({ err: error }, "failed");
    expect(lines[1]).toMatchObject({ err: { type: "Error", message: "auth failed", code: "EAUTH", pass: "***" } });
    expect(String((lines[1]!.err as { stack: string }).stack)).toContain("auth failed");
  });

  it("masks secrets in a child logger's bindings", () => {
    const { log, lines } = capture();
    log.child({ upstream: { user: "me", pass: "hunter2" } }).info("child");
    expect(lines[0]).toMatchObject({ upstream: { user: "me", pass: "***" }, msg: "child" });
  });
});
