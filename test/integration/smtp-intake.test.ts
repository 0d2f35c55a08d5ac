// SMTP intake on the real binary, nodemailer as the client and the test sink as the
// upstream: AUTH, refusals, a UTF-8 message relayed byte for byte, SIZE, the allowlist,
// a client vanishing mid-DATA, and kill -9 right after the 250.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import nodemailer from "nodemailer";
import { afterEach, describe, expect, it } from "vitest";
import { get } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const relays: RelayProcess[] = [];
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

interface Setup {
  relay: RelayProcess;
  sink: SmtpSink;
  smtpPort: number;
  dir: string;
}

function setupWithQuota(dir: string, sink: SmtpSink): Promise<Setup> {
  return setup([], dir, sink, ["quotas:", "  perClient: { hour: 1, day: 0 }"]);
}

async function setup(extra: string[] = [], dir = tmpDir(), sink?: SmtpSink, top: string[] = []): Promise<Setup> {
  sink ??= await startSmtpSink();
  if (!sinks.includes(sink)) sinks.push(sink);
  writeConfig(
    dir,
    [
      ...top,
      "server:",
      "  maxBodyBytes: 200000",
      "smtpIntake:",
      "  enabled: true",
      '  listen: "127.0.0.1:0"',
      "  users:",
      '    - { user: app, pass: "app-secret-pass" }',
      ...extra,
      deliveryYaml(sink.port, ["  from: relay@example.org"]),
    ].join("\n"),
  );
  const relay = await startRelay({ cwd: dir });
  relays.push(relay);
  const smtpPort = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(relay.output())![1]);
  return { relay, sink, smtpPort, dir };
}

const client = (port: number, auth?: { user: string; pass: string }, authMethod?: string) =>
  nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ignoreTLS: true,
    auth,
    authMethod,
    connectionTimeout: 3000,
    socketTimeout: 5000,
  } as never);

const raw = Buffer.from(
  [
    "From: App <app@example.com>",
    "To: a@example.com",
    "Subject: =?UTF-8?B?5pyI5oql77yaIHLDqXN1bcOp?=",
    "Message-ID: <given-1@example.com>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Grüße, 报告 ✓",
    "--b1",
    'Content-Type: application/octet-stream; name="a.bin"',
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from([0, 1, 2, 255, 254]).toString("base64"),
    "--b1--",
    "",
  ].join("\r\n"),
);

describe("SMTP intake", () => {
  it.each(["PLAIN", "LOGIN"])(
    "accepts AUTH %s and relays the message byte for byte to RCPT TO (Bcc included)",
    async (method) => {
      const { relay, sink, smtpPort } = await setup();
      const info = await client(smtpPort, { user: "app", pass: "app-secret-pass" }, method).sendMail({
        envelope: { from: "app@example.com", to: ["a@example.com", "hidden@example.com"] },
        raw,
      });
      expect(info.response).toMatch(/^250 .*queued as ([0-9A-Z]{26})/);
      const id = /queued as ([0-9A-Z]{26})/.exec(info.response)![1]!;
      const [message] = await sink.waitForMessages(1);
      expect(message!.raw.equals(raw)).toBe(true);
      expect(message!.to.sort()).toEqual(["a@example.com", "hidden@example.com"]);
      expect(message!.from).toBe("relay@example.org");
      const status = await waitFor(async () => {
        const answer = await get(relay.url, `/api/email/${id}`);
        return answer.body.data?.state === "sent" ? answer.body.data : undefined;
      });
      expect(status.subject).toBe("月报： résumé");
      expect(status.recipients.map((r: { address: string }) => r.address)).toEqual([
        "a@example.com",
        "hidden@example.com",
      ]);
    },
  );

  it("adds a Message-ID only when missing and keeps the client's MAIL FROM with keepSender", async () => {
    const { sink, smtpPort } = await setup(["  keepSender: true"]);
    const bare = Buffer.from("From: a@example.com\r\nTo: b@example.com\r\nSubject: plain\r\n\r\nhello\r\n");
    const info = await client(smtpPort, { user: "app", pass: "app-secret-pass" }).sendMail({
      envelope: { from: "bounce@example.com", to: ["b@example.com"] },
      raw: bare,
    });
    const id = /queued as ([0-9A-Z]{26})/.exec(info.response)![1]!;
    const [message] = await sink.waitForMessages(1);
    expect(message!.raw.toString()).toBe(`Message-ID: <${id}@example.org>\r\n${bare.toString()}`);
    expect(message!.from).toBe("bounce@example.com");
  });

  it("refuses a wrong password with 535 and MAIL FROM without AUTH with 530", async () => {
    const { smtpPort } = await setup();
    await expect(
      client(smtpPort, { user: "app", pass: "wrong" }).sendMail({
        envelope: { from: "a@example.com", to: ["b@example.com"] },
        raw,
      }),
    ).rejects.toMatchObject({ responseCode: 535 });
    await expect(
      client(smtpPort).sendMail({ envelope: { from: "a@example.com", to: ["b@example.com"] }, raw }),
    ).rejects.toMatchObject({ responseCode: 530 });
  });

  it("refuses an oversize message with 552 and leaves nothing behind", async () => {
    const { smtpPort, dir } = await setup();
    const big = Buffer.concat([Buffer.from("Subject: big\r\n\r\n"), Buffer.alloc(300_000, 0x61)]);
    await expect(
      client(smtpPort, { user: "app", pass: "app-secret-pass" }).sendMail({
        envelope: { from: "a@example.com", to: ["b@example.com"] },
        raw: big,
      }),
    ).rejects.toMatchObject({ responseCode: 552 });
    expect(fs.readdirSync(path.join(dir, "data/blobs"))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "data/spool/000001.jsonl"), { flag: "a+" }).length).toBe(0);
  });

  it("answers 451 4.7.1 when the SMTP user's quota is used up", async () => {
    const dir = tmpDir();
    const sink = await startSmtpSink();
    sinks.push(sink);
    writeConfig(dir, "");
    const { smtpPort } = await setupWithQuota(dir, sink);
    const transport = client(smtpPort, { user: "app", pass: "app-secret-pass" });
    await transport.sendMail({ envelope: { from: "a@example.com", to: ["b@example.com"] }, raw });
    await expect(
      transport.sendMail({ envelope: { from: "a@example.com", to: ["b@example.com"] }, raw }),
    ).rejects.toMatchObject({ responseCode: 451, response: expect.stringContaining("4.7.1") });
  });

  it("refuses a client outside smtpIntake.allow with 554", async () => {
    const { smtpPort } = await setup(['  allow: ["10.0.0.0/8"]']);
    await expect(
      client(smtpPort, { user: "app", pass: "app-secret-pass" }).sendMail({
        envelope: { from: "a@example.com", to: ["b@example.com"] },
        raw,
      }),
    ).rejects.toMatchObject({ responseCode: 554 });
  });

  it("leaves no record or blob when the client disconnects mid-DATA", async () => {
    const { smtpPort, dir, relay } = await setup(["  requireAuth: false"]);
    const socket = net.connect(smtpPort, "127.0.0.1");
    const said: string[] = [];
    socket.on("data", (d) => said.push(d.toString()));
    const send = async (line: string, expectCode: string) => {
      socket.write(`${line}\r\n`);
      await waitFor(() => said.join("").includes(expectCode), 3000, expectCode);
      said.length = 0;
    };
    await waitFor(() => said.join("").includes("220"), 3000, "greeting");
    said.length = 0;
    await send("EHLO test", "250");
    await send("MAIL FROM:<a@example.com>", "250");
    await send("RCPT TO:<b@example.com>", "250");
    await send("DATA", "354");
    socket.write("Subject: half\r\n\r\n" + "x".repeat(70_000));
    await waitFor(() => fs.readdirSync(path.join(dir, "data/blobs")).length > 0, 3000, "the temp blob");
    socket.destroy();
    await waitFor(() => fs.readdirSync(path.join(dir, "data/blobs")).length === 0, 5000, "the temp blob to be removed");
    expect(fs.readFileSync(path.join(dir, "data/spool/000001.jsonl"), { flag: "a+" }).length).toBe(0);
    expect((await get(relay.url, "/health")).status).toBe(200);
  });

  it("delivers a mail acknowledged with 250 even when the relay is killed right after", async () => {
    const first = await setup();
    first.sink.behaviour.onRcpt = () => ({ code: 451, message: "not yet" });
    const info = await client(first.smtpPort, { user: "app", pass: "app-secret-pass" }).sendMail({
      envelope: { from: "a@example.com", to: ["b@example.com"] },
      raw,
    });
    await first.relay.kill();
    relays.splice(relays.indexOf(first.relay), 1);
    first.sink.behaviour.onRcpt = undefined;
    const id = /queued as ([0-9A-Z]{26})/.exec(info.response)![1]!;
    await setup([], first.dir, first.sink);
    const [message] = await first.sink.waitForMessages(1, 15_000);
    expect(message!.raw.equals(raw)).toBe(true);
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
  });
});
