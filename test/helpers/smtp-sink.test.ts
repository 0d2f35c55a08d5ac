// Proves each smtp-sink mode against a real nodemailer client, and pins the error shapes
// the delivery classifier relies on. Observed with nodemailer 10.6.0 / smtp-server 3.21.6
// (`permanent` is nodemailer's own reading of the reply class; absent without a reply):
//
//   mode                         code          responseCode  command       permanent
//   no AUTH when required        EENVELOPE     530           "MAIL FROM"   true
//   wrong password               EAUTH         535           "AUTH PLAIN"  true
//   onConnect 421                EPROTOCOL     421           "CONN"        false
//   onMailFrom 550 / 451         EENVELOPE     550 / 451     "MAIL FROM"   true / false
//   onData 554 / 451             EMESSAGE      554 / 451     "DATA"        true / false
//   onData "drop"                ECONNECTION   undefined     "CONN"        undefined
//   onData "hang" (timeout)      ETIMEDOUT     undefined     "CONN"        undefined
//
// Some recipients rejected at RCPT TO: sendMail resolves; info.accepted and info.rejected
// are address arrays, info.rejectedErrors holds one error per rejected address, each
// { recipient, code: "EENVELOPE", responseCode, command: "RCPT TO", permanent, response }.
// Every recipient rejected: sendMail rejects with code EENVELOPE, command "RCPT TO",
// err.rejected and err.rejectedErrors as above; the top-level responseCode is the first
// 4xx among them if there is one, else the last reply, so classify per recipient from
// err.rejectedErrors, never from the top-level code.
import nodemailer from "nodemailer";
import type { NodemailerError } from "nodemailer/lib/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSmtpSink, type SmtpSink } from "./smtp-sink.js";

const recipients = ["ann@example.org", "bob@example.org", "cy@example.org"];
const mail = { from: "app@example.com", to: recipients, subject: "sink check", text: "hello sink" };

let sink: SmtpSink;
beforeEach(async () => {
  sink = await startSmtpSink();
});
afterEach(async () => {
  await sink.close();
});

function client(options: { auth?: { user: string; pass: string }; socketTimeout?: number } = {}) {
  return nodemailer.createTransport({ host: "127.0.0.1", port: sink.port, secure: false, ignoreTLS: true, ...options });
}

async function sendFailure(options?: Parameters<typeof client>[0]): Promise<NodemailerError> {
  const error = await client(options)
    .sendMail(mail)
    .then(
      () => undefined,
      (err: NodemailerError) => err,
    );
  if (!error) throw new Error("expected sendMail to fail");
  return error;
}

describe("smtp sink", () => {
  it("accepts a message with its raw bytes and envelope", async () => {
    const info = await client().sendMail(mail);
    expect(info.accepted).toEqual(recipients);
    const [message] = await sink.waitForMessages(1);
    expect(message).toMatchObject({ from: "app@example.com", to: recipients });
    expect(message?.user).toBeUndefined();
    expect(message?.raw.toString()).toContain("Subject: sink check");
    expect(message?.raw.toString()).toContain("hello sink");
    expect(sink.connections).toBe(1);
    expect(sink.transactions.map((t) => t.command)).toEqual([
      "CONNECT",
      "MAIL FROM",
      "RCPT TO",
      "RCPT TO",
      "RCPT TO",
      "DATA",
    ]);
  });

  describe("with auth required", () => {
    beforeEach(() => {
      sink.behaviour.auth = { user: "relay", pass: "s3cret" };
    });

    it("refuses MAIL FROM with 530 to a client that does not authenticate", async () => {
      expect(await sendFailure()).toMatchObject({
        code: "EENVELOPE",
        responseCode: 530,
        command: "MAIL FROM",
        permanent: true,
      });
      expect(sink.messages).toEqual([]);
    });

    it("answers a wrong password with 535", async () => {
      const error = await sendFailure({ auth: { user: "relay", pass: "wrong" } });
      expect(error).toMatchObject({ code: "EAUTH", responseCode: 535, command: "AUTH PLAIN" });
      expect(sink.messages).toEqual([]);
    });

    it("accepts the right credentials and records the user", async () => {
      await client({ auth: { user: "relay", pass: "s3cret" } }).sendMail(mail);
      expect(sink.messages[0]?.user).toBe("relay");
    });
  });

  it("refuses the connection at the greeting with onConnect", async () => {
    sink.behaviour.onConnect = () => ({ code: 421, message: "busy" });
    expect(await sendFailure()).toMatchObject({
      code: "EPROTOCOL",
      responseCode: 421,
      command: "CONN",
      permanent: false,
    });
  });

  it("rejects the sender with onMailFrom", async () => {
    sink.behaviour.onMailFrom = (address) =>
      address === "app@example.com" ? { code: 550, message: "sender refused" } : undefined;
    expect(await sendFailure()).toMatchObject({
      code: "EENVELOPE",
      responseCode: 550,
      command: "MAIL FROM",
      permanent: true,
    });
  });

  it("rejects one recipient with 550 and delivers to the other two", async () => {
    sink.behaviour.onRcpt = (address) =>
      address === "bob@example.org" ? { code: 550, message: "no such user" } : undefined;
    const info = await client().sendMail(mail);
    expect(info.accepted).toEqual(["ann@example.org", "cy@example.org"]);
    expect(info.rejected).toEqual(["bob@example.org"]);
    expect(info.rejectedErrors).toHaveLength(1);
    expect(info.rejectedErrors?.[0]).toMatchObject({
      recipient: "bob@example.org",
      code: "EENVELOPE",
      responseCode: 550,
      command: "RCPT TO",
      permanent: true,
    });
    const [message] = await sink.waitForMessages(1);
    expect(message?.to).toEqual(["ann@example.org", "cy@example.org"]);
  });

  it("defers a recipient with 451", async () => {
    sink.behaviour.onRcpt = (address) =>
      address === "cy@example.org" ? { code: 451, message: "try again in 60 seconds" } : undefined;
    const info = await client().sendMail(mail);
    expect(info.rejected).toEqual(["cy@example.org"]);
    expect(info.rejectedErrors?.[0]).toMatchObject({
      recipient: "cy@example.org",
      responseCode: 451,
      command: "RCPT TO",
      permanent: false,
    });
    expect(info.rejectedErrors?.[0]?.response).toBe("451 try again in 60 seconds");
  });

  it("reports every rejection per recipient when none is accepted", async () => {
    sink.behaviour.onRcpt = (address) =>
      address === "bob@example.org" ? { code: 451, message: "later" } : { code: 550, message: "no" };
    const error = await sendFailure();
    expect(error).toMatchObject({ code: "EENVELOPE", responseCode: 451, command: "RCPT TO", rejected: recipients });
    expect(error.rejectedErrors?.map((e) => [e.recipient, e.responseCode])).toEqual([
      ["ann@example.org", 550],
      ["bob@example.org", 451],
      ["cy@example.org", 550],
    ]);
    expect(sink.messages).toEqual([]);
  });

  it("rejects the message after the final dot with onData", async () => {
    sink.behaviour.onData = () => ({ code: 554, message: "content refused" });
    expect(await sendFailure()).toMatchObject({
      code: "EMESSAGE",
      responseCode: 554,
      command: "DATA",
      permanent: true,
    });
    expect(sink.messages).toEqual([]);
  });

  it("drops the connection after the data without replying", async () => {
    let seen = 0;
    sink.behaviour.onData = () => {
      seen += 1;
      return "drop";
    };
    const error = await sendFailure();
    expect(error).toMatchObject({ code: "ECONNECTION", command: "CONN" });
    expect(error.responseCode).toBeUndefined();
    expect(seen).toBe(1);
    expect(sink.messages).toEqual([]);
  });

  it("hangs after the data until the client times out", async () => {
    sink.behaviour.onData = () => "hang";
    const error = await sendFailure({ socketTimeout: 300 });
    expect(error).toMatchObject({ code: "ETIMEDOUT", command: "CONN" });
    expect(error.responseCode).toBeUndefined();
    expect(sink.messages).toEqual([]);
  });

  it("close() ends a hanging session", async () => {
    sink.behaviour.onData = () => "hang";
    const failure = sendFailure();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sink.close();
    expect(await failure).toMatchObject({ code: "ECONNECTION" });
  });

  it("reads the behaviour afresh on every connection", async () => {
    sink.behaviour.onData = () => ({ code: 451, message: "later" });
    await sendFailure();
    sink.behaviour = {};
    await client().sendMail(mail);
    expect(await sink.waitForMessages(1)).toHaveLength(1);
    expect(sink.connections).toBe(2);
    expect(sink.transactions.filter((t) => t.command === "DATA").map((t) => t.code)).toEqual([451, 250]);
  });

  it("waitForMessages rejects on timeout", async () => {
    await expect(sink.waitForMessages(1, 50)).rejects.toThrow(/expected 1 messages/);
  });
});
