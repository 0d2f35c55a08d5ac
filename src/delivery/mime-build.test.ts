// The stream-free writer must produce exactly the bytes nodemailer's own build() produces
// for the same compiled tree (same boundaries), for the mail shapes compose.ts makes:
// text + HTML, attachments, names and subjects in and out of ASCII, long and short lines,
// CR/LF and dot-led lines, empty bodies; and it must step aside (null) for trees it does
// not cover, so build() is used there.
import fc from "fast-check";
import MailComposer from "nodemailer/lib/mail-composer/index.js";
import MimeNode from "nodemailer/lib/mime-node/index.js";
import { describe, expect, it } from "vitest";
import { buildMimeSync } from "./mime-build.js";

const chars = [..."abcxyz XYZ019:;<>@.,=-_\t()\"'\\ëü✓😀\r\n"];
const text = (max: number) => fc.string({ unit: fc.constantFrom(...chars), maxLength: max });
const longText = fc.oneof(
  text(200),
  fc
    .array(fc.constantFrom("word ", "ünïcode ", "=3D ", ".\r\n", "\n", "x".repeat(90), " \t"), { maxLength: 80 })
    .map((a) => a.join("")),
);
const name = fc.oneof(fc.constant(undefined), text(30), fc.constantFrom("Plain Name", "Zoë", "A, B", '"Quoted"'));
const address = fc.record({
  address: fc.constantFrom("r1@example.com", "zoë@example.com", "a.b+c@xn--jgeva-dua.ee", "x@jõgeva.ee"),
  name,
});
const attachment = fc.record({
  filename: fc.oneof(text(20), fc.constantFrom("report.pdf", "répört.pdf", "a b;c.txt")),
  contentType: fc.constantFrom("application/pdf", "text/csv", "image/png", "text/plain"),
  content: fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    longText.map((t) => Buffer.from(t)),
  ),
  contentDisposition: fc.constant("attachment" as const),
});
const mail = fc.record({
  fromName: name,
  to: fc.array(address, { minLength: 1, maxLength: 3 }),
  cc: fc.array(address, { maxLength: 2 }),
  replyTo: fc.option(address, { nil: undefined }),
  subject: text(120),
  html: longText,
  text: fc.option(longText, { nil: undefined }),
  attachments: fc.array(attachment, { maxLength: 3 }),
});

function compile(m: typeof mail extends fc.Arbitrary<infer T> ? T : never) {
  return new MailComposer({
    from: m.fromName ? { name: m.fromName, address: "sender@example.org" } : "sender@example.org",
    to: m.to,
    cc: m.cc.length ? m.cc : undefined,
    replyTo: m.replyTo,
    subject: m.subject,
    html: m.html,
    text: m.text,
    attachments: m.attachments,
    messageId: "<01TEST@example.org>",
    date: new Date("2026-03-04T05:06:07Z"),
    disableFileAccess: true,
    disableUrlAccess: true,
  }).compile();
}

describe("buildMimeSync", () => {
  it("writes the same bytes as MailComposer's build() for the same tree", async () => {
    await fc.assert(
      fc.asyncProperty(mail, async (m) => {
        const root = compile(m);
        const ours = buildMimeSync(root);
        expect(ours).not.toBeNull();
        const theirs = await root.build();
        expect(ours!.toString("latin1")).toBe(theirs.toString("latin1"));
      }),
      { numRuns: 300 },
    );
  });

  it("writes the bench's message (1.5 KiB HTML, its text part, a 2 KiB attachment) as build() does", async () => {
    const html = `<html><body>${"<p>Line: the quick brown fox jumps over the lazy dog; <b>total</b></p>\n".repeat(20)}</body></html>`;
    const root = compile({
      fromName: undefined,
      to: [{ address: "r1@example.com", name: undefined }],
      cc: [],
      replyTo: undefined,
      subject: "Monthly report — delivery bench",
      html,
      text: html.replace(/<[^>]+>/g, ""),
      attachments: [
        {
          filename: "report-2kib.pdf",
          contentType: "application/pdf",
          content: Buffer.alloc(2048, 7),
          contentDisposition: "attachment",
        },
      ],
    });
    const ours = buildMimeSync(root);
    expect(ours?.equals(await root.build())).toBe(true);
  });

  it("steps aside for text bigger than one encoder slice, for stream content and for transforms", async () => {
    const big = compile({
      fromName: undefined,
      to: [{ address: "r1@example.com", name: undefined }],
      cc: [],
      replyTo: undefined,
      subject: "big",
      html: "abcé ".repeat(15_000),
      text: undefined,
      attachments: [],
    });
    expect(buildMimeSync(big)).toBeNull();
    const small = compile({
      fromName: undefined,
      to: [{ address: "r1@example.com", name: undefined }],
      cc: [],
      replyTo: undefined,
      subject: "x",
      html: "<p>x</p>",
      text: "x",
      attachments: [],
    });
    small.transform(() => undefined as never);
    expect(buildMimeSync(small)).toBeNull();
  });

  it("spells header names as nodemailer does, the first time and from the memo", () => {
    const node = new MimeNode("text/plain");
    const spelled = {
      "x-mailer": "X-Mailer",
      "mime-version": "MIME-Version",
      "DKIM-SIGNATURE": "DKIM-Signature",
      "list-id": "List-ID",
      "content-features": "Content-features",
      " subject: ": "Subject",
    };
    for (let round = 0; round < 2; round++)
      for (const [key, header] of Object.entries(spelled)) {
        node.setHeader(key, "v");
        expect(node.getHeader(header)).toBe("v");
        expect(node.buildHeaders()).toContain(`${header}: v`);
      }
  });
});
