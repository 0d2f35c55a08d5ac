import { describe, expect, it } from "vitest";
import { classifyError, recipientRejectionIsPermanent, retryHintSeconds } from "./classify.js";

describe("classifyError", () => {
  it.each([
    [{ code: "EMESSAGE", responseCode: 554, command: "DATA", response: "554 rejected" }, "envelope-permanent", 554],
    [{ code: "EENVELOPE", responseCode: 550, command: "DATA", response: "550 no" }, "envelope-permanent", 550],
    [{ code: "EMESSAGE", responseCode: 451, command: "DATA", response: "451 later" }, "upstream", 451],
    [{ code: "EAUTH", responseCode: 535, command: "AUTH PLAIN", response: "535 bad" }, "upstream", 535],
    [{ code: "EENVELOPE", responseCode: 550, command: "MAIL FROM", response: "550 sender" }, "upstream", 550],
    [{ code: "ECONNECTION", command: "CONN", message: "connect ECONNREFUSED" }, "upstream", 0],
    [{ code: "ETIMEDOUT", command: "CONN", message: "Timeout" }, "upstream", 0],
    [{ code: "EPROTOCOL", responseCode: 421, command: "CONN", response: "421 busy" }, "upstream", 421],
  ])("%o → %s", (error, kind, code) => {
    const failure = classifyError(error);
    expect(failure.kind).toBe(kind);
    expect(failure.code).toBe(code);
  });

  it("keeps a readable response for errors without an SMTP reply", () => {
    expect(classifyError({ code: "ECONNECTION", message: "connect ECONNREFUSED 127.0.0.1:1" }).response).toContain(
      "ECONNREFUSED",
    );
  });

  it("treats only 5xx recipient rejections as permanent", () => {
    expect(recipientRejectionIsPermanent(550)).toBe(true);
    expect(recipientRejectionIsPermanent(452)).toBe(false);
  });
});

describe("retryHintSeconds", () => {
  it.each([
    [451, "451 4.7.1 Greylisted, try again in 60 seconds", 60],
    [450, "450 please retry after 5 minutes", 300],
    [421, "421 Too many connections, wait 30s", 30],
    [451, "451 temporary failure", null],
    [550, "550 try again in 60 seconds", null],
  ])("%i %s → %s", (code, text, seconds) => {
    expect(retryHintSeconds(code, text)).toBe(seconds);
  });
});
