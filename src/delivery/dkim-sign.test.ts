// DKIM signing as delivery does it (compose, then sign), checked by a real verifier
// (mailauth) given the public key: which messages are signed, for which domain, with which
// headers; relayed messages already signed for the domain left alone; and, for generated
// subjects, names and bodies, a composed mail that always verifies and is composed and
// signed to the same bytes every time.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectOneValidSignature, makeDkimKey, verifyDkim } from "../../test/helpers/dkim.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";
import type { DkimKey } from "../config-dkim.js";
import { BlobStore } from "../spool/blobs.js";
import type { AcceptedRecord } from "../spool/record.js";
import type { Mail } from "../types.js";
import { composeMessage } from "./compose.js";
import { signMessage } from "./dkim-sign.js";

const dir = tmpDir("mailspool-dkim-sign-");
const blobs = new BlobStore(dir);
const test = makeDkimKey(dir, "example");
const idn = makeDkimKey(dir, "idn");
const keys: DkimKey[] = [
  { domain: "example.org", selector: "s2026", privateKey: test.pem, publicKey: test.publicKey },
  { domain: "xn--bcher-kva.example", selector: "mail", privateKey: idn.pem, publicKey: idn.publicKey },
];
const published = {
  "s2026._domainkey.example.org": test.publicKey,
  "mail._domainkey.xn--bcher-kva.example": idn.publicKey,
};

function record(mail: Partial<Mail>, id = "01KDKIMTEST0000000000000000"): AcceptedRecord {
  return {
    v: 1,
    type: "accepted",
    id,
    ts: "2026-12-02T04:00:00.000Z",
    client: "127.0.0.1",
    mail: {
      subject: "hello",
      html: "<p>hi</p>",
      to: [{ address: "a@example.com" }],
      cc: [],
      bcc: [],
      attachments: [],
      messageId: `<${id}@example.org>`,
      ...mail,
    },
  };
}

const composed = async (from: string, mail: Partial<Mail> = {}) =>
  signMessage(await composeMessage(record(mail), from, blobs), keys);

const raw = (head: string, body = "hello\r\n") => Buffer.from(`${head.replaceAll("\n", "\r\n")}\r\n\r\n${body}`);

describe("signMessage", () => {
  it("signs a composed mail for its From domain, relaxed/relaxed rsa-sha256, with the MIME headers", async () => {
    const message = await composed("relay@example.org", {
      subject: "Grüße — 你好",
      fromName: "Relay Ünit",
      cc: [{ address: "c@example.com", name: "Cé" }],
      attachments: [{ filename: "a.txt", contentType: "text/plain", size: 3, sha256: "x", inline: "YWJj" }],
    });
    expect(message.toString("latin1")).toMatch(
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org;/,
    );
    await expectOneValidSignature(message, published, { domain: "example.org", selector: "s2026" }, [
      "from",
      "to",
      "cc",
      "subject",
      "date",
      "message-id",
      "mime-version",
      "content-type",
    ]);
  });

  it("matches the From domain case-insensitively and in its IDNA form", async () => {
    const upper = raw("From: App <app@EXAMPLE.Org>\nTo: b@example.com\nSubject: x");
    expect((await verifyDkim(await signMessage(upper, keys), published)).map((s) => s.result)).toEqual(["pass"]);
    const unicode = raw("From: Bücher <news@bücher.example>\nTo: b@example.com\nSubject: x");
    expect(await verifyDkim(await signMessage(unicode, keys), published)).toMatchObject([
      { domain: "xn--bcher-kva.example", result: "pass" },
    ]);
  });

  it("leaves a mail from another domain, without one From, or without a header section as it is", async () => {
    for (const message of [
      raw("From: app@example.com\nTo: b@example.com\nSubject: x"),
      raw("From: app@sub.example.org\nSubject: x"),
      raw("From: a@example.org\nFrom: b@example.org\nSubject: x"),
      raw("From: a@example.org, b@example.com\nSubject: x"),
      raw("Subject: no from"),
      Buffer.from("just a body line\r\nFrom: app@example.org\r\n"),
    ])
      expect((await signMessage(message, keys)).equals(message)).toBe(true);
    const composedElsewhere = await composeMessage(record({}), "relay@example.net", blobs);
    expect((await signMessage(composedElsewhere, keys)).equals(composedElsewhere)).toBe(true);
  });

  it("does not sign a relayed message twice for a domain it is already signed for, but adds its own next to another's", async () => {
    const once = await signMessage(raw("From: app@example.org\nTo: b@example.com\nSubject: x"), keys);
    expect((await signMessage(once, keys)).equals(once)).toBe(true);
    const folded = Buffer.from(once.toString("latin1").replace("d=example.org;", "d=\r\n EXAMPLE.org;"), "latin1");
    expect((await signMessage(folded, keys)).equals(folded)).toBe(true);
    const foreign = Buffer.from(once.toString("latin1").replace("d=example.org", "d=example.com"), "latin1");
    const both = await signMessage(foreign, keys);
    expect(both.subarray(both.length - foreign.length).equals(foreign)).toBe(true);
    expect((await verifyDkim(both, published)).map((s) => [s.domain, s.result])).toContainEqual([
      "example.org",
      "pass",
    ]);
  });

  it("leaves every message alone without keys", async () => {
    const message = raw("From: app@example.org\nSubject: x");
    expect(await signMessage(message, [])).toBe(message);
  });

  it("verifies for generated subjects, sender names and bodies, and is the same bytes every time", async () => {
    const text = fc.string({ unit: "grapheme", maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(text, text, text, fc.boolean(), async (subject, fromName, body, attach) => {
        const mail: Partial<Mail> = {
          subject,
          fromName: fromName.trim() === "" ? undefined : fromName,
          html: `<p>${body}</p>`,
          text: body,
          attachments: attach
            ? [{ filename: "d.bin", contentType: "application/octet-stream", size: 4, sha256: "x", inline: "AAEC/w==" }]
            : [],
        };
        const first = await composed("relay@example.org", mail);
        expect((await verifyDkim(first, published)).map((s) => s.result)).toEqual(["pass"]);
        expect((await composed("relay@example.org", mail)).equals(first)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
