import { describe, expect, it } from "vitest";
import { invalidField, MailspoolError } from "../errors.js";
import { replyFor, smtpReply } from "./smtp-reply.js";

const io = (code: string) => Object.assign(new Error(code), { code, syscall: "write" });

describe("replyFor", () => {
  it.each([
    ["the client's bad input", invalidField("to[0]", "is not a valid address"), 554, false],
    [
      "a header section over its limit",
      new MailspoolError("too_large", "Message header section too large"),
      554,
      false,
    ],
    ["a quota", new MailspoolError("rate_limited", undefined, { retryAfterSeconds: 30 }), 451, false],
    ["a full spool disk", new MailspoolError("insufficient_storage"), 452, false],
    ["a spool I/O error", new MailspoolError("unavailable", "Spool I/O error"), 451, false],
    ["ENOSPC while writing the blob", io("ENOSPC"), 452, false],
    ["EIO while writing the blob", io("EIO"), 451, false],
    ["a bug", new TypeError("x is undefined"), 451, true],
    ["a reply made on purpose", smtpReply(421, "too slow"), 421, false],
    ["a client gone mid-DATA", Object.assign(new Error("closed"), { code: "ECONNECTION" }), 421, false],
  ])("answers %s with %i", (_, error, code, unexpected) => {
    const answer = replyFor(error);
    expect(answer.reply.responseCode).toBe(code);
    expect(answer.unexpected).toBe(unexpected);
  });

  it("names the field of the client's error and keeps the line short", () => {
    expect(replyFor(invalidField("to[0]", "is not a valid address")).reply.message).toBe(
      "5.6.0 Param is invalid: to[0] is not a valid address",
    );
    expect(replyFor(invalidField("to", "x".repeat(1000))).reply.message.length).toBeLessThan(320);
  });
});
