// SMTP intake against hostile clients, on the real binary over raw sockets: oversize and
// trickled DATA, AUTH floods and the per-address budget, header sections over the limit,
// odd recipients, too many recipients and connections. Every test ends with the relay
// still serving, no temp file in blobs/ and fsck clean.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { parseAddress } from "../../src/address.js";
import {
  blobsDir,
  expectStillServing,
  intakeUser,
  startIntakeRelay,
  stopIntakeRelays,
  tempBlobs,
} from "../helpers/intake-relay.js";
import { runCli } from "../helpers/cli.js";
import { garbageHeaderMessage } from "../helpers/generated-messages.js";
import { dataBytes, RawSmtp } from "../helpers/raw-smtp.js";
import { waitFor } from "../helpers/tmp-dir.js";

afterEach(stopIntakeRelays);

async function session(port: number, auth = true): Promise<RawSmtp> {
  const { client } = await RawSmtp.connect(port);
  expect((await client.command("EHLO test")).code).toBe(250);
  if (auth) expect((await client.authPlain(intakeUser.user, intakeUser.pass)).code).toBe(235);
  return client;
}

describe("SMTP intake under hostile input", () => {
  it("stops writing an oversize DATA at the limit, drops its temp blob at once, and answers 552 5.3.4 after the dot", async () => {
    const r = await startIntakeRelay();
    const client = await session(r.smtpPort);
    await client.envelope("a@example.com", ["b@example.com"]);
    expect((await client.command("DATA")).code).toBe(354);
    await client.write("Subject: big\r\nMessage-ID: <big@example.com>\r\n\r\n");
    const line = Buffer.from(`${"a".repeat(998)}\r\n`);
    const megabyte = Buffer.concat(Array.from({ length: 1000 }, () => line));
    let largest = 0;
    let sawTemp = false;
    let goneWhileStreaming = false;
    for (let sent = 0; sent < 20; sent++) {
      await client.write(megabyte);
      const sizes = fs
        .readdirSync(blobsDir(r))
        .map((f) => fs.statSync(`${blobsDir(r)}/${f}`, { throwIfNoEntry: false })?.size ?? 0);
      largest = Math.max(largest, ...sizes);
      sawTemp ||= sizes.length > 0;
      if (sent >= 2 && sizes.length === 0) goneWhileStreaming = true;
    }
    await client.write(".\r\n");
    const answer = await client.reply();
    expect(answer.text).toMatch(/^552 5\.3\.4 /);
    expect(largest).toBeLessThanOrEqual(200_000);
    expect(goneWhileStreaming).toBe(true);
    expect(sawTemp || largest === 0).toBe(true);
    expect((await client.command("RSET")).code).toBe(250);
    client.destroy();
    await expectStillServing(r);
  });

  it("cuts a DATA trickled a byte at a time at smtpIntake.dataTimeoutSeconds with 421 4.4.2 and closes", async () => {
    const r = await startIntakeRelay({ smtpIntake: ["dataTimeoutSeconds: 2"] });
    const client = await session(r.smtpPort);
    await client.envelope("a@example.com", ["b@example.com"]);
    expect((await client.command("DATA")).code).toBe(354);
    const started = Date.now();
    await client.write("Subject: slow\r\n\r\n");
    const trickle = (async () => {
      while (!client.isClosed && Date.now() - started < 8000) {
        await client.write("x").catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    await waitFor(() => tempBlobs(r).length > 0, 3000, "the temp blob");
    const answer = await client.reply(8000);
    expect(answer.text).toMatch(/^421 4\.4\.2 /);
    expect(answer.at - started).toBeGreaterThanOrEqual(1900);
    expect(answer.at - started).toBeLessThan(5000);
    await client.closed;
    await trickle;
    expect(tempBlobs(r)).toEqual([]);
    await expectStillServing(r);
  });

  it("stops on SIGTERM within shutdown.graceSeconds while a DATA trickles in, leaving no temp blob", async () => {
    const r = await startIntakeRelay({
      smtpIntake: ["dataTimeoutSeconds: 60"],
      top: ["shutdown: { graceSeconds: 1 }"],
    });
    const client = await session(r.smtpPort);
    await client.envelope("a@example.com", ["b@example.com"]);
    expect((await client.command("DATA")).code).toBe(354);
    await client.write("Subject: slow\r\n\r\nstill coming");
    await waitFor(() => tempBlobs(r).length > 0, 3000, "the temp blob");
    const started = Date.now();
    expect(await r.relay.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await client.reply()).text).toMatch(/^421 /);
    expect(tempBlobs(r)).toEqual([]);
    expect(runCli(["fsck", "-c", path.join(r.dir, "app.yaml")], r.dir).code).toBe(0);
  });

  it("logs, slows and disconnects 300 pipelined wrong passwords, never showing the password", async () => {
    const r = await startIntakeRelay();
    const { client } = await RawSmtp.connect(r.smtpPort);
    expect((await client.command("EHLO test")).code).toBe(250);
    const password = "Guess-Pa55word-x";
    const attempt = `AUTH PLAIN ${Buffer.from(`\0${intakeUser.user}\0${password}`).toString("base64")}\r\n`;
    const sentAt = Date.now();
    await client.write(attempt.repeat(300));
    const answers = [await client.reply(), await client.reply(), await client.reply()];
    expect(answers.map((a) => a.code)).toEqual([535, 535, 421]);
    // 0.5 s, then 1 s, then 2 s: counted from the send, since a reply read late would shorten the gap after it
    expect(answers[0]!.at - sentAt).toBeGreaterThanOrEqual(450);
    expect(answers[1]!.at - sentAt).toBeGreaterThanOrEqual(1450);
    expect(answers[2]!.at - sentAt).toBeGreaterThanOrEqual(3400);
    await client.closed;
    await expect(client.reply(100)).rejects.toThrow(/closed/);
    const failures = r.relay
      .output()
      .split("\n")
      .filter((l) => l.includes('"smtp AUTH failed"'))
      .map((l) => JSON.parse(l));
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({ level: 40, user: "app", address: "127.0.0.1" });
    expect(r.relay.output()).not.toContain(password);
    expect(r.relay.output()).not.toContain(attempt.slice(11, 40));
    await expectStillServing(r);
  });

  it("spends the per-address AUTH budget across connections, refuses even the right password, and forgives after the window", async () => {
    const r = await startIntakeRelay({
      smtpIntake: ["authFailures: { perConnection: 3, perAddress: 4, windowSeconds: 6 }"],
    });
    const firstFailure = Date.now();
    const first = await session(r.smtpPort, false);
    expect((await first.authPlain("app", "wrong-1")).code).toBe(535);
    expect((await first.authPlain("nobody", "wrong-2")).code).toBe(535);
    expect((await first.authPlain("app", "wrong-3")).code).toBe(421);
    await first.closed;
    const second = await session(r.smtpPort, false);
    expect((await second.authPlain("app", "wrong-4")).text).toMatch(/^421 /);
    await second.closed;
    const third = await session(r.smtpPort, false);
    const refused = await third.authPlain(intakeUser.user, intakeUser.pass);
    expect(refused.text).toMatch(/^421 .*try again in \d+ seconds/);
    await third.closed;
    const spentLines = r.relay.output().match(/smtp AUTH failure budget spent/g) ?? [];
    expect(spentLines).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstFailure + 6500 - Date.now())));
    const fourth = await session(r.smtpPort, false);
    expect((await fourth.authPlain(intakeUser.user, intakeUser.pass)).code).toBe(235);
    fourth.destroy();
    await expectStillServing(r);
  });

  it.each([
    ["bytes", `Subject: ${"x".repeat(300 * 1024)}\r\n\r\nbody\r\n`],
    ["lines", `${"X-Line: y\r\n".repeat(5000)}\r\nbody\r\n`],
  ])("refuses a header section over the limit in %s for good with 554 5.6.0", async (_, message) => {
    const r = await startIntakeRelay({ server: ["maxBodyBytes: 2000000"] });
    const client = await session(r.smtpPort);
    await client.envelope("a@example.com", ["b@example.com"]);
    const answer = await client.data([dataBytes(Buffer.from(message))]);
    expect(answer.text).toMatch(/^554 5\.6\.0 .*header section too large/);
    client.destroy();
    await expectStillServing(r);
  });

  it("answers garbage in a header section with 250 or 5xx, never 4xx, and keeps the session", async () => {
    const r = await startIntakeRelay();
    const client = await session(r.smtpPort);
    await fc.assert(
      fc.asyncProperty(garbageHeaderMessage("\r\n"), async (message) => {
        await client.envelope("a@example.com", ["b@example.com"]);
        const answer = await client.data([dataBytes(message)]);
        expect(answer.code === 250 || (answer.code >= 500 && answer.code < 600)).toBe(true);
      }),
      { numRuns: 30 },
    );
    client.destroy();
    await expectStillServing(r);
  });

  it("answers RCPT TO with bad or odd addresses with 5xx (553 for a bad address) and takes the good ones", async () => {
    const r = await startIntakeRelay();
    const client = await session(r.smtpPort);
    expect((await client.command("MAIL FROM:<a@example.com>")).code).toBe(250);
    for (const bad of ["a@b@c.com", "no-domain@", "@example.com", "bob@-bad-.com", "bob@exa mple.com", "a..b@x.com"])
      expect((await client.command(`RCPT TO:<${bad}>`)).code, bad).toBeGreaterThanOrEqual(500);
    expect((await client.command(`RCPT TO:<${"x".repeat(65)}@example.com>`)).text).toMatch(/^553 /);
    const odd = fc.tuple(
      fc.string({ unit: fc.constantFrom(..."ab.+-_\"'!#%=~xY1"), minLength: 1, maxLength: 20 }),
      fc.constantFrom("example.com", "EXAMPLE.com", "xn--fsqu00a.xn--4rr70v", "例子.广告", "-x.com", "a_b.com", "com"),
    );
    await fc.assert(
      fc.asyncProperty(odd, async ([local, domain]) => {
        const address = `${local}@${domain}`;
        // a transaction per run: past delivery.maxRecipients (100) even a good address is answered 452
        expect((await client.command("RSET")).code).toBe(250);
        expect((await client.command("MAIL FROM:<a@example.com>")).code).toBe(250);
        const answer = await client.command(`RCPT TO:<${address}>`);
        if (answer.code === 250) expect(parseAddress(address).ok).toBe(true);
        else expect(answer.code, `${address}: ${answer.text}`).toBeGreaterThanOrEqual(500);
      }),
      { numRuns: 60 },
    );
    client.destroy();
    await expectStillServing(r);
  });

  it("answers 452 past delivery.maxRecipients and takes the message for the accepted ones", async () => {
    const r = await startIntakeRelay({ delivery: ["maxRecipients: 3"] });
    const client = await session(r.smtpPort);
    expect((await client.command("MAIL FROM:<a@example.com>")).code).toBe(250);
    const answers = [];
    for (let i = 1; i <= 6; i++) answers.push((await client.command(`RCPT TO:<r${i}@example.com>`)).code);
    expect(answers).toEqual([250, 250, 250, 452, 452, 452]);
    const reply = await client.data([dataBytes(Buffer.from("Subject: many\r\n\r\nhi\r\n"))]);
    expect(reply.code).toBe(250);
    client.destroy();
    await expectStillServing(r);
  });

  it("refuses connections past smtpIntake.maxClients with 421 and names the client by its address, not by reverse DNS", async () => {
    const r = await startIntakeRelay({ smtpIntake: ["maxClients: 2"] });
    const open = [await session(r.smtpPort, false), await session(r.smtpPort, false)];
    const { client: extra, greeting } = await RawSmtp.connect(r.smtpPort);
    expect(greeting.code).toBe(421);
    await extra.closed;
    open.forEach((c) => c.destroy());
    await Promise.all(open.map((c) => c.closed));
    // the relay sees the two leave a moment after they are gone here
    const client = await waitFor(async () => {
      const { client, greeting } = await RawSmtp.connect(r.smtpPort);
      return greeting.code === 220 ? client : (client.destroy(), undefined);
    });
    expect((await client.command("EHLO test")).text).toMatch(/Nice to meet you, \[127\.0\.0\.1\]/);
    client.destroy();
    await expectStillServing(r);
  });
});
