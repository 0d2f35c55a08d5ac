// Sends through the real built binary over a socket and checks what reached the spool
// and the embedded outbox, byte for byte.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, post, postChunked, sendForm } from "../helpers/http.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let dir: string;
let relay: RelayProcess;

beforeAll(async () => {
  dir = tmpDir();
  writeConfig(
    dir,
    [
      "server:",
      "  maxBodyBytes: 1048576",
      "delivery:",
      "  maxRecipients: 5",
      "  from: relay@example.org",
      "spool:",
      "  inlineMaxBytes: 4096",
    ].join("\n"),
  );
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  expect(await relay.stop()).toBe(0);
});

async function deliveredEml(id: string) {
  const file = path.join(dir, "data/outbox", `${id}.eml`);
  await waitFor(() => fs.existsSync(file), 10_000, `outbox/${id}.eml`);
  return simpleParser(fs.readFileSync(file));
}

describe("POST /api/email/send", () => {
  it("delivers a UTF-8 multipart mail with two attachments intact", async () => {
    const pdf = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    const small = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x00]);
    const answer = await post(
      relay.url,
      sendForm(
        {
          title: "月报 — résumé ✓",
          content: "<p>Grüße <b>报告</b></p>",
          sender_name: "Jörg Müller",
          receiver: "a@example.com,b@example.com",
          receiver_name: "Ann Ö,比尔",
        },
        [
          { filename: "报告 résumé.pdf", type: "application/pdf", data: pdf },
          { filename: "raw.bin", type: "application/x-custom-type", data: small },
        ],
      ),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ code: 200, message: "success" });
    const id = answer.body.data.id as string;
    const mail = await deliveredEml(id);
    expect(mail.subject).toBe("月报 — résumé ✓");
    expect(mail.from?.value[0]).toMatchObject({ name: "Jörg Müller", address: "relay@example.org" });
    expect(mail.messageId).toBe(`<${id}@example.org>`);
    const to = Array.isArray(mail.to) ? mail.to[0]! : mail.to!;
    expect(to.value.map((v) => [v.name, v.address])).toEqual([
      ["Ann Ö", "a@example.com"],
      ["比尔", "b@example.com"],
    ]);
    expect(mail.html).toContain("<b>报告</b>");
    expect(mail.text).toContain("Grüße");
    expect(mail.attachments.map((a) => [a.filename, a.contentType, sha256(a.content)])).toEqual([
      ["报告 résumé.pdf", "application/pdf", sha256(pdf)],
      ["raw.bin", "application/x-custom-type", sha256(small)],
    ]);
    const status = await get(relay.url, `/api/email/${id}`);
    expect(status.body.data).toMatchObject({ id, state: "sent" });
    expect(status.body.data.recipients.map((r: { state: string }) => r.state)).toEqual(["sent", "sent"]);
    expect(status.body.data.attempts[0].transactions[0]).toMatchObject({ upstream: "outbox", code: 250 });
  });

  it("keeps an RFC 2231 file name and stores a large attachment as a blob", async () => {
    const big = Buffer.alloc(20_000, 0x42);
    const boundary = "----b0undary";
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nblob test\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="content"\r\n\r\n<p>x</p>\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="receiver"\r\n\r\nc@example.com\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="attachment"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt\r\nContent-Type: text/csv\r\n\r\n`,
      ),
      big,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const answer = await post(relay.url, body, { "content-type": `multipart/form-data; boundary=${boundary}` });
    expect(answer.status).toBe(200);
    const mail = await deliveredEml(answer.body.data.id);
    expect(mail.attachments[0]).toMatchObject({ filename: "报告.txt", contentType: "text/csv" });
    expect(sha256(mail.attachments[0]!.content)).toBe(sha256(big));
    expect(fs.existsSync(path.join(dir, "data/blobs", sha256(big)))).toBe(true);
  });

  it("accepts JSON with base64 attachments", async () => {
    const data = Buffer.from("hello, json ✓");
    const answer = await post(
      relay.url,
      JSON.stringify({
        title: "json",
        content: "<i>j</i>",
        receiver: "d@example.com",
        cc: "e@example.com",
        bcc: "f@example.com",
        reply_to: "r@example.com",
        attachment: [{ filename: "n.txt", content: data.toString("base64"), contentType: "text/plain" }],
      }),
      { "content-type": "application/json" },
    );
    expect(answer.status).toBe(200);
    const mail = await deliveredEml(answer.body.data.id);
    expect(mail.subject).toBe("json");
    expect(mail.replyTo?.value[0]?.address).toBe("r@example.com");
    expect(mail.headers.has("bcc")).toBe(false);
    expect(mail.attachments[0]!.content.equals(data)).toBe(true);
    const status = await get(relay.url, `/api/email/${answer.body.data.id}`);
    expect(status.body.data.recipients.map((r: { address: string; kind: string }) => `${r.kind}:${r.address}`)).toEqual(
      ["to:d@example.com", "cc:e@example.com", "bcc:f@example.com"],
    );
  });

  it("accepts an urlencoded form", async () => {
    const answer = await post(
      relay.url,
      new URLSearchParams({ title: "form é", content: "<p>f</p>", receiver: "g@example.com" }).toString(),
      {
        "content-type": "application/x-www-form-urlencoded",
      },
    );
    expect(answer.status).toBe(200);
    expect((await deliveredEml(answer.body.data.id)).subject).toBe("form é");
  });

  it("lists records newest first and filters by state", async () => {
    const list = await get(relay.url, "/api/email?limit=2&state=sent");
    expect(list.status).toBe(200);
    expect(list.body.data.items).toHaveLength(2);
    const [first, second] = list.body.data.items;
    expect(first.id > second.id).toBe(true);
    expect((await get(relay.url, "/api/email?state=bogus")).body.data.errors[0].field).toBe("state");
    expect((await get(relay.url, "/api/email/01ZZZZZZZZZZZZZZZZZZZZZZZZ")).status).toBe(404);
  });
});

describe("bad input", () => {
  const multipart = (fields: Record<string, string>, files?: Parameters<typeof sendForm>[1]) => sendForm(fields, files);
  const ok = { title: "t", content: "<p>c</p>", receiver: "a@example.com" };
  const json = (value: unknown) => ({
    body: typeof value === "string" ? value : JSON.stringify(value),
    headers: { "content-type": "application/json" },
  });
  const cases: { name: string; body: BodyInit; headers?: Record<string, string>; status: number; field: string }[] = [
    {
      name: "missing title",
      body: multipart({ content: "c", receiver: "a@example.com" }),
      status: 400,
      field: "title",
    },
    {
      name: "missing content",
      body: multipart({ title: "t", receiver: "a@example.com" }),
      status: 400,
      field: "content",
    },
    { name: "missing receiver", body: multipart({ title: "t", content: "c" }), status: 400, field: "receiver" },
    {
      name: "invalid receiver",
      body: multipart({ ...ok, receiver: "a@example.com,not-an-address" }),
      status: 400,
      field: "receiver",
    },
    {
      name: "display name in receiver",
      body: multipart({ ...ok, receiver: "Bob <b@example.com>" }),
      status: 400,
      field: "receiver",
    },
    {
      name: "too many recipients",
      body: multipart({ ...ok, receiver: "a@x.io,b@x.io,c@x.io", cc: "d@x.io,e@x.io", bcc: "f@x.io" }),
      status: 400,
      field: "receiver",
    },
    { name: "CR/LF in title", body: multipart({ ...ok, title: "a\r\nBcc: evil@x.io" }), status: 400, field: "title" },
    { name: "NUL in sender_name", body: multipart({ ...ok, sender_name: "a\0b" }), status: 400, field: "sender_name" },
    {
      name: "LF in receiver_name",
      body: multipart({ ...ok, receiver_name: "a\nb" }),
      status: 400,
      field: "receiver_name",
    },
    {
      name: "more names than receivers",
      body: multipart({ ...ok, receiver_name: "A,B" }),
      status: 400,
      field: "receiver_name",
    },
    { name: "invalid cc", body: multipart({ ...ok, cc: "x@" }), status: 400, field: "cc" },
    { name: "invalid bcc", body: multipart({ ...ok, bcc: "@x.io" }), status: 400, field: "bcc" },
    { name: "two reply_to", body: multipart({ ...ok, reply_to: "a@x.io,b@x.io" }), status: 400, field: "reply_to" },
    {
      name: "path in file name",
      body: multipart(ok, [{ filename: "../../etc/passwd", type: "text/plain", data: Buffer.from("x") }]),
      status: 400,
      field: "attachment[0].filename",
    },
    {
      name: "file under another field",
      body: multipart(ok, [{ name: "upload", filename: "a.txt", type: "text/plain", data: Buffer.from("x") }]),
      status: 400,
      field: "upload",
    },
    { name: "malformed JSON", ...json('{"title": "t",'), status: 400, field: "body" },
    { name: "JSON array body", ...json([1, 2]), status: 400, field: "body" },
    { name: "JSON wrong type", ...json({ ...ok, title: 5 }), status: 400, field: "title" },
    {
      name: "JSON attachment not base64",
      ...json({ ...ok, attachment: [{ filename: "a", content: "%%%" }] }),
      status: 400,
      field: "attachment[0].content",
    },
    {
      name: "JSON attachment bad type",
      ...json({ ...ok, attachment: [{ filename: "a", content: "eA==", contentType: "text/plain\r\nX: y" }] }),
      status: 400,
      field: "attachment[0].contentType",
    },
    {
      name: "multipart without boundary",
      body: "--x\r\n",
      headers: { "content-type": "multipart/form-data" },
      status: 400,
      field: "Content-Type",
    },
    {
      name: "truncated multipart",
      body: '--bb\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--bb\r\nContent-Disposition: form-data; name="attachment[]"; filename="a.txt"\r\n\r\nhalf',
      headers: { "content-type": "multipart/form-data; boundary=bb" },
      status: 400,
      field: "body",
    },
    {
      name: "unsupported content type",
      body: "hello",
      headers: { "content-type": "text/plain" },
      status: 415,
      field: "Content-Type",
    },
  ];

  it.each(cases)("$name → $status naming $field, nothing written", async ({ body, headers, status, field }) => {
    const segment = path.join(dir, "data/spool/000001.jsonl");
    const before = fs.existsSync(segment) ? fs.statSync(segment).size : 0;
    const answer = await post(relay.url, body, headers);
    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(status);
    expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(fs.existsSync(segment) ? fs.statSync(segment).size : 0).toBe(before);
    expect(fs.readdirSync(path.join(dir, "data/blobs")).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("answers 413 to a declared oversize body without reading it", async () => {
    const answer = await post(relay.url, Buffer.alloc(1_100_000, 0x61), { "content-type": "application/json" });
    expect(answer.status).toBe(413);
    expect(answer.body.code).toBe(413);
  });

  it("answers 413 to a chunked oversize multipart body and leaves no temp file", async () => {
    const answer = await postChunked(relay.url, "multipart/form-data; boundary=zz", 3 * 1048576);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe(413);
    expect(fs.readdirSync(path.join(dir, "data/blobs")).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("stays healthy after the bad input", async () => {
    const health = await get(relay.url, "/health");
    expect(health.status).toBe(200);
    expect((health.body as unknown as { status: string }).status).toBe("ok");
  });
});
