// Issue 10 §1 on the real binary and a real SMTP upstream: however a recipient is spelled
// (domain case, IDN or punycode, needless quotes, plus-tags) and however often it repeats
// across receiver, cc and bcc, over HTTP or SMTP intake, every accepted recipient gets
// exactly one copy and the mail ends `sent`; a non-ASCII local part goes only to an upstream
// offering SMTPUTF8, else fails for good with the reason.
import fc from "fast-check";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAddress } from "../../src/address.js";
import { get, post } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { binaryPath, startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";
import { execFileSync } from "node:child_process";

const canonical = (address: string) => {
  const parsed = parseAddress(address);
  if (!parsed.ok) throw new Error(`${address}: ${parsed.reason}`);
  return parsed.address;
};

/** Mailboxes and the spellings that name each of them. */
const mailboxes = [
  { local: "bob", domain: "example.com", spellings: ["example.com", "EXAMPLE.com", "Example.COM"] },
  { local: "Ann.Lee", domain: "example.org", spellings: ["example.org", "EXAMPLE.ORG"] },
  { local: "ops+alerts", domain: "mail.example.net", spellings: ["mail.example.net", "MAIL.Example.Net"] },
  { local: "user", domain: "例子.广告", spellings: ["例子.广告", "xn--fsqu00a.xn--4rr70v", "XN--FSQU00A.xn--4rr70v"] },
  { local: "kai", domain: "bücher.de", spellings: ["bücher.de", "BÜCHER.de", "xn--bcher-kva.de"] },
  { local: "用户", domain: "例子.广告", spellings: ["例子.广告", "xn--fsqu00a.xn--4rr70v"] },
];
const spelled = fc
  .record({ box: fc.nat(mailboxes.length - 1), spelling: fc.nat(2), quoted: fc.boolean() })
  .map(({ box, spelling, quoted }) => {
    const m = mailboxes[box]!;
    const local = quoted && !/[^\x00-\x7f]/.test(m.local) ? `"${m.local}"` : m.local;
    return `${local}@${m.spellings[spelling % m.spellings.length]}`;
  });
const recipientSets = fc.record({
  receiver: fc.array(spelled, { minLength: 1, maxLength: 4 }),
  cc: fc.array(spelled, { maxLength: 3 }),
  bcc: fc.array(spelled, { maxLength: 3 }),
});

let sink: SmtpSink;
let relay: RelayProcess;
let dir: string;
let smtpPort: number;
beforeAll(async () => {
  sink = await startSmtpSink();
  dir = tmpDir();
  writeConfig(
    dir,
    [
      "smtpIntake:",
      "  enabled: true",
      '  listen: "127.0.0.1:0"',
      "  requireAuth: false",
      deliveryYaml(sink.port, [
        "  from: relay@example.org",
        "  batch: { size: 3, delayMs: 0 }",
        "  retry: { attempts: 3, baseSeconds: 1, maxSeconds: 1 }",
      ]),
      "failed:",
      '  rescan: "* * * * * *"',
      "  maxAgeHours: 1",
    ].join("\n"),
  );
  relay = await startRelay({ cwd: dir });
  smtpPort = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(relay.output())![1]);
});
afterAll(async () => {
  await relay?.stop();
  await sink?.close();
});

/** Hands a message to an SMTP intake; returns the mail id from the 250. */
async function smtpSend(port: number, from: string, to: string[]): Promise<string> {
  const connection = new SMTPConnection({ port, host: "127.0.0.1", ignoreTLS: true, logger: false });
  await new Promise<void>((resolve, reject) => connection.connect((e) => (e ? reject(e) : resolve())));
  const raw = `Subject: smtp spellings\r\nFrom: app@example.org\r\n\r\nhello\r\n`;
  const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
    connection.send({ from, to }, raw, (e, i) => (e ? reject(e) : resolve(i))),
  );
  connection.quit();
  return /queued as (\w+)/.exec(String(info.response))![1]!;
}

/** Waits for the mail to end, then checks: `sent`, each recipient once at the sink, nobody else. */
async function expectEachOnce(id: string, expected: Set<string>): Promise<void> {
  const status = await waitFor(
    async () => {
      const answer = await get(relay.url, `/api/email/${id}`);
      return ["sent", "partial", "failed"].includes(answer.body.data?.state) ? answer.body.data : undefined;
    },
    15_000,
    `mail ${id} to end`,
  );
  expect(status.state).toBe("sent");
  expect(new Set(status.recipients.map((r: { address: string }) => r.address))).toEqual(expected);
  const copies = new Map<string, number>();
  for (const message of sink.messages.filter((m) => m.raw.includes(id))) {
    for (const to of message.to) copies.set(canonical(to), (copies.get(canonical(to)) ?? 0) + 1);
  }
  expect(Object.fromEntries(copies)).toEqual(Object.fromEntries([...expected].map((a) => [a, 1])));
}

describe("one delivery per accepted recipient", () => {
  it("bob@EXAMPLE.com is delivered once and the mail ends sent (the duplicate storm)", async () => {
    const answer = await post(
      relay.url,
      JSON.stringify({ title: "storm", content: "<p>x</p>", receiver: "bob@EXAMPLE.com" }),
      { "content-type": "application/json" },
    );
    expect(answer.status).toBe(200);
    await expectEachOnce(answer.body.data.id, new Set(["bob@example.com"]));
  });

  it("HTTP: any spelling and repetition across receiver/cc/bcc gives each mailbox one copy", async () => {
    await fc.assert(
      fc.asyncProperty(recipientSets, async (sets) => {
        const answer = await post(
          relay.url,
          JSON.stringify({
            title: "spellings",
            content: "<p>x</p>",
            receiver: sets.receiver.join(", "),
            cc: sets.cc.join(","),
            bcc: sets.bcc.join(" , "),
          }),
          { "content-type": "application/json" },
        );
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        const expected = new Set([...sets.receiver, ...sets.cc, ...sets.bcc].map(canonical));
        await expectEachOnce(answer.body.data.id, expected);
      }),
      { numRuns: 12 },
    );
  });

  it("SMTP intake: RCPT TO in any spelling, repeated, gives each mailbox one copy", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spelled, { minLength: 1, maxLength: 6 }), async (rcpts) => {
        const id = await smtpSend(smtpPort, "app@example.org", rcpts);
        await expectEachOnce(id, new Set(rcpts.map(canonical)));
      }),
      { numRuns: 8 },
    );
  });

  it("SMTP intake keeps local parts that differ in case apart, as HTTP does", async () => {
    const id = await smtpSend(smtpPort, "app@example.org", ["Bob@EXAMPLE.com", "bob@example.com", "BOB@example.COM"]);
    const status = await waitFor(async () => {
      const data = (await get(relay.url, `/api/email/${id}`)).body.data;
      return data.state === "sent" ? data : undefined;
    });
    const expected = ["Bob@example.com", "bob@example.com", "BOB@example.com"];
    expect(status.recipients.map((r: { address: string }) => r.address)).toEqual(expected);
    // (the test sink, smtp-server, would merge them within one envelope: count what the relay sent)
    const sent = status.attempts.flatMap((a: any) => a.transactions.flatMap((t: any) => t.envelope.to));
    expect(sent.sort()).toEqual([...expected].sort());
  });

  it("leaves a spool that fsck finds clean", () => {
    expect(() => execFileSync(binaryPath, ["fsck"], { cwd: dir, stdio: "pipe" })).not.toThrow();
  });
});

describe("SMTPUTF8", () => {
  it("a non-ASCII local part fails for good where no upstream offers SMTPUTF8; the others are sent", async () => {
    const plain = await startSmtpSink({}, { smtpUtf8: false });
    const plainDir = tmpDir();
    writeConfig(
      plainDir,
      [
        "smtpIntake:",
        "  enabled: true",
        '  listen: "127.0.0.1:0"',
        "  requireAuth: false",
        "  keepSender: true",
        deliveryYaml(plain.port, ["  from: relay@example.org"], "plain"),
      ].join("\n"),
    );
    const other = await startRelay({ cwd: plainDir });
    const otherSmtp = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(other.output())![1]);
    try {
      const answer = await post(
        other.url,
        JSON.stringify({ title: "utf8", content: "<p>x</p>", receiver: "用户@例子.广告, ann@例子.广告" }),
        { "content-type": "application/json" },
      );
      expect(answer.status).toBe(200);
      const id = answer.body.data.id;
      const status = await waitFor(async () => {
        const data = (await get(other.url, `/api/email/${id}`)).body.data;
        return data.state === "partial" ? data : undefined;
      });
      const byAddress = Object.fromEntries(status.recipients.map((r: any) => [r.address, r]));
      expect(byAddress["ann@xn--fsqu00a.xn--4rr70v"].state).toBe("sent");
      expect(byAddress["用户@xn--fsqu00a.xn--4rr70v"].state).toBe("failed-permanent");
      expect(byAddress["用户@xn--fsqu00a.xn--4rr70v"].lastError).toContain("SMTPUTF8");
      expect(plain.messages.flatMap((m) => m.to.map(canonical))).toEqual(["ann@xn--fsqu00a.xn--4rr70v"]);

      // a kept non-ASCII envelope sender needs SMTPUTF8 as much: failed for good, not retried forever
      const kept = await smtpSend(otherSmtp, "用户@例子.广告", ["plain@example.com"]);
      const keptStatus = await waitFor(async () => {
        const data = (await get(other.url, `/api/email/${kept}`)).body.data;
        return data.state === "failed" ? data : undefined;
      });
      expect(keptStatus.recipients[0].state).toBe("failed-permanent");
      expect(keptStatus.recipients[0].lastError).toContain("envelope sender");
      expect(plain.messages).toHaveLength(1);
    } finally {
      await other.stop();
      await plain.close();
    }
  });

  it("is sent, with the punycode domain in the envelope, where the upstream offers SMTPUTF8", async () => {
    const answer = await post(
      relay.url,
      JSON.stringify({ title: "utf8 ok", content: "<p>x</p>", receiver: "用户@例子.广告" }),
      { "content-type": "application/json" },
    );
    await expectEachOnce(answer.body.data.id, new Set(["用户@xn--fsqu00a.xn--4rr70v"]));
    // the sink (smtp-server) shows domains decoded; what went out is in the transaction record
    const status = (await get(relay.url, `/api/email/${answer.body.data.id}`)).body.data;
    expect(status.attempts[0].transactions[0].envelope.to).toEqual(["用户@xn--fsqu00a.xn--4rr70v"]);
  });

  it("refuses over-long local parts, domains and paths with a 400 naming the field", async () => {
    for (const [receiver, reason] of [
      [`${"a".repeat(65)}@example.com`, "64 octets"],
      [`a@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.${"e".repeat(63)}.com`, "255 octets"],
      [`${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.com`, "254 octets"],
    ] as const) {
      const answer = await post(relay.url, JSON.stringify({ title: "long", content: "x", receiver }), {
        "content-type": "application/json",
      });
      expect(answer.status).toBe(400);
      expect(answer.body.data.errors[0].field).toBe("receiver");
      expect(answer.body.data.errors[0].message).toContain(reason);
    }
  });
});
