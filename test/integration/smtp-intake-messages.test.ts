// What SMTP intake relays, on the real binary over a raw socket: generated messages with
// and without a header section, CRLF and LF, split by the client at random points, each
// delivered (data/outbox/<id>.eml) as received behind at most one added Message-ID, with
// exactly one Message-ID header and the body bytes unchanged.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunked, generatedMessage, messageIdCount, splitAtHeaderEnd } from "../helpers/generated-messages.js";
import {
  expectStillServing,
  intakeUser,
  outboxMessage,
  startIntakeRelay,
  stopIntakeRelays,
  type IntakeRelay,
} from "../helpers/intake-relay.js";
import { asReceived, dataBytes, RawSmtp } from "../helpers/raw-smtp.js";

let r: IntakeRelay;
let client: RawSmtp;
beforeAll(async () => {
  r = await startIntakeRelay();
  client = (await RawSmtp.connect(r.smtpPort)).client;
  expect((await client.command("EHLO test")).code).toBe(250);
  expect((await client.authPlain(intakeUser.user, intakeUser.pass)).code).toBe(235);
});
afterAll(async () => {
  client.destroy();
  await stopIntakeRelays();
});

async function relayed(chunks: Buffer[]): Promise<Buffer> {
  await client.envelope("app@example.com", ["ann@example.com"]);
  const answer = await client.data(chunks);
  expect(answer.code, answer.text).toBe(250);
  return outboxMessage(r, answer.text);
}

const addedId = /^Message-ID: <[0-9A-Z]{26}@example\.org>/;

describe("SMTP intake relays what it received", () => {
  it.each([
    ["an empty header section", "\r\nhello: world\r\n", "\r\n"],
    ["no header section", "hello\r\nworld: x\r\n", "\r\n\r\n"],
    ["no header section, LF only", "hello\nworld: x\n", "\n\n"],
    ["a header section without Message-ID, LF only", "Subject: s\n\nbody\n", "\n"],
  ])("adds a Message-ID to a message with %s without turning body lines into headers", async (_, text, after) => {
    const delivered = await relayed([dataBytes(Buffer.from(text))]);
    const sent = asReceived(Buffer.from(text));
    const prefix = delivered.subarray(0, delivered.length - sent.length).toString();
    expect(delivered.subarray(-sent.length).equals(sent)).toBe(true);
    expect(prefix).toMatch(addedId);
    expect(prefix.replace(addedId, "")).toBe(after);
  });

  it("delivers every generated message byte for byte with exactly one Message-ID, however the client splits it", async () => {
    // smtp-server does not undo the dot-stuffing of a line right after a bare LF that is
    // the very first byte of DATA (its scan starts at the third byte); bare LF is not SMTP
    const cases = generatedMessage
      .filter((m) => !m.bytes.toString("latin1").startsWith("\n."))
      .chain((m) => chunked(dataBytes(m.bytes)).map((chunks) => ({ m, chunks })));
    await fc.assert(
      fc.asyncProperty(cases, async ({ m, chunks }) => {
        const delivered = await relayed(chunks);
        const sent = asReceived(m.bytes);
        const prefix = delivered.subarray(0, delivered.length - sent.length);
        expect(delivered.subarray(prefix.length).equals(sent)).toBe(true);
        if (m.hasMessageId) expect(prefix.length).toBe(0);
        else expect(prefix.toString()).toMatch(/^Message-ID: <[0-9A-Z]{26}@example\.org>(\r?\n){1,2}$/);
        const [header, body] = splitAtHeaderEnd(delivered);
        expect(messageIdCount(header)).toBe(1);
        expect(body.equals(m.kind === "none" ? sent : splitAtHeaderEnd(sent)[1])).toBe(true);
      }),
      { numRuns: 50 },
    );
    await expectStillServing(r);
  });
});
