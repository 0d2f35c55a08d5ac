// DKIM end to end: the built binary signs what it delivers to the real SMTP test server,
// and a verifier (mailauth) given the published key finds the signature valid: an HTTP mail
// with an attachment and a non-ASCII subject, a raw SMTP-intake mail. A mail from another
// domain, or relayed already signed for the domain, is not signed (again). A deferred mail
// is sent with the same signed bytes at its next attempt, also after a restart. check-config
// prints the DNS record to publish; SIGHUP swaps the key.
import fs from "node:fs";
import path from "node:path";
import { dkimSign } from "mailauth";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { expectOneValidSignature, makeDkimKey, verifyDkim, type TestKey } from "../helpers/dkim.js";
import { post, sendForm } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SinkMessage, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const intakeUser = { user: "app", pass: "app-secret-pass" };
const dir = tmpDir("mailspool-dkim-");
const key = makeDkimKey(dir, "s2026");
const published: Record<string, string> = { "s2026._domainkey.example.org": key.publicKey };
let sink: SmtpSink;
let relay: RelayProcess;
let smtpPort: number;

function config(keys: { selector: string; key: TestKey }[]): string {
  return [
    deliveryYaml(sink.port, [
      "  from: relay@example.org",
      "  retry: { attempts: 5, baseSeconds: 0.2, maxSeconds: 0.5 }",
    ]),
    "smtpIntake:",
    "  enabled: true",
    '  listen: "127.0.0.1:0"',
    `  users: [{ user: ${intakeUser.user}, pass: "${intakeUser.pass}" }]`,
    "dkim:",
    ...keys.map(
      (k) => `  - { domain: EXAMPLE.org, selector: ${k.selector}, privateKey: ./${path.basename(k.key.file)} }`,
    ),
  ].join("\n");
}

async function start(): Promise<void> {
  relay = await startRelay({ cwd: dir });
  smtpPort = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(relay.output())![1]);
}

beforeAll(async () => {
  sink = await startSmtpSink();
  writeConfig(dir, config([{ selector: "s2026", key }]));
  await start();
});
afterAll(async () => {
  await relay.stop();
  await sink.close();
});

/** The next message the sink accepts after `send` ran. */
async function delivered(send: () => Promise<unknown>): Promise<SinkMessage> {
  const before = sink.messages.length;
  await send();
  return (await sink.waitForMessages(before + 1, 10_000))[before]!;
}

function relayRaw(raw: Buffer, from = "app@example.org"): Promise<unknown> {
  const client = nodemailer.createTransport({
    host: "127.0.0.1",
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    auth: intakeUser,
  });
  return client.sendMail({ envelope: { from, to: ["b@example.com"] }, raw });
}

const signatureCount = (raw: Buffer) => (raw.toString("latin1").match(/^DKIM-Signature:/gim) ?? []).length;

describe("DKIM through the built binary", () => {
  it("check-config loads the key and prints the DNS TXT record to publish, the PEM never", () => {
    const shown = runCli(["check-config", "-c", path.join(dir, "app.yaml")], dir);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toContain(
      `mailspool: dkim example.org: publish s2026._domainkey.example.org TXT "v=DKIM1; k=rsa; p=${key.publicKey}"`,
    );
    expect(JSON.parse(shown.stdout).dkim).toEqual([{ domain: "example.org", selector: "s2026", privateKey: key.file }]);
    const inline = tmpDir("mailspool-dkim-inline-");
    writeConfig(inline, 'dkim:\n  - { domain: example.org, selector: s2026, privateKey: "${DKIM_KEY}" }\n');
    const fromEnv = runCli(["check-config"], inline, { DKIM_KEY: key.pem });
    expect(fromEnv.code).toBe(0);
    expect(JSON.parse(fromEnv.stdout).dkim[0].privateKey).toBe("***");
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain(key.pem.split("\n")[1]);
    writeConfig(inline, "dkim:\n  - { domain: example.org, selector: s2026, privateKey: ./missing.pem }\n");
    const missing = runCli(["check-config"], inline);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("dkim[0].privateKey: cannot read");
  });

  it("signs an HTTP mail with an attachment and a non-ASCII subject; it verifies with the published key", async () => {
    const message = await delivered(async () => {
      const answer = await post(
        relay.url,
        sendForm({ title: "Grüße — 月报 ✓", content: "<p>Grüße</p>", sender_name: "Jörg", receiver: "a@example.com" }, [
          {
            filename: "résumé.pdf",
            type: "application/pdf",
            data: Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256)),
          },
        ]),
      );
      expect(answer.status).toBe(200);
    });
    await expectOneValidSignature(message.raw, published, { domain: "example.org", selector: "s2026" });
  });

  it("signs a raw SMTP-intake mail from the domain; leaves one from another domain, or signed already for it, as relayed", async () => {
    const raw = (from: string) =>
      Buffer.from(
        `From: App <${from}>\r\nTo: b@example.com\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello ✓\r\n`,
      );
    const signed = await delivered(() => relayRaw(raw("app@Example.ORG")));
    expect(signatureCount(signed.raw)).toBe(1);
    expect(await verifyDkim(signed.raw, published)).toMatchObject([{ domain: "example.org", result: "pass" }]);

    const foreign = raw("app@example.com");
    const other = await delivered(() => relayRaw(foreign, "app@example.com"));
    expect(signatureCount(other.raw)).toBe(0);
    expect(other.raw.subarray(-foreign.length).equals(foreign)).toBe(true);

    const theirs = makeDkimKey(dir, "theirs");
    // the signer signs what signatureData lists; its types also ask for the fields at the top
    const signer = { signingDomain: "example.org", selector: "theirs", privateKey: theirs.pem };
    const { signatures } = await dkimSign(raw("app@example.org"), { ...signer, signatureData: [signer] });
    expect(signatures).toMatch(/^DKIM-Signature: .*d=example\.org/);
    const presigned = Buffer.concat([Buffer.from(signatures), raw("app@example.org")]);
    const relayed = await delivered(() => relayRaw(presigned));
    expect(signatureCount(relayed.raw)).toBe(1);
    expect(relayed.raw.subarray(-presigned.length).equals(presigned)).toBe(true);
    expect(await verifyDkim(relayed.raw, { "theirs._domainkey.example.org": theirs.publicKey })).toMatchObject([
      { selector: "theirs", result: "pass" },
    ]);
  });

  it("sends a deferred mail with the same signed bytes at the next attempt, also after a restart", async () => {
    const deferred: Buffer[] = [];
    sink.behaviour.onData = (message) => {
      deferred.push(message.raw);
      return { code: 451, message: "try again later" };
    };
    const answer = await post(relay.url, sendForm({ title: "later", content: "<p>x</p>", receiver: "a@example.com" }));
    expect(answer.status).toBe(200);
    await waitFor(() => deferred.length >= 2, 10_000, "two deferred attempts");
    expect(await relay.stop()).toBe(0);
    sink.behaviour.onData = undefined;
    const message = await delivered(start);
    expect(deferred[1]!.equals(deferred[0]!)).toBe(true);
    expect(message.raw.equals(deferred[0]!)).toBe(true);
    expect(await verifyDkim(message.raw, published)).toMatchObject([{ result: "pass" }]);
  });

  it("SIGHUP swaps the key: the next mail is signed with the new selector", async () => {
    const next = makeDkimKey(dir, "s2027");
    writeConfig(dir, config([{ selector: "s2027", key: next }]));
    const reloads = relay.output().split("config reloaded").length;
    relay.child.kill("SIGHUP");
    await waitFor(() => relay.output().split("config reloaded").length > reloads, 5_000, "the reload");
    const message = await delivered(() => relayRaw(Buffer.from("From: app@example.org\r\nSubject: x\r\n\r\nhi\r\n")));
    expect(await verifyDkim(message.raw, { "s2027._domainkey.example.org": next.publicKey })).toMatchObject([
      { selector: "s2027", result: "pass" },
    ]);
  });
});
