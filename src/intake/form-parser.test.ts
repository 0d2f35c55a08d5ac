// The multipart reader on generated bodies fed in random chunkings (and split at every
// position): the same body always gives the same result, the one the model says it owes —
// fields joined or refused, files in the order sent with their bytes, a 400 naming the
// part — and a refused body leaves no temp file behind.
import fs from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { BlobStore } from "../spool/blobs.js";
import {
  chunked,
  contentTypeOf,
  encodeRequest,
  expectedAnswer,
  requestModel,
  type RequestModel,
} from "../../test/helpers/multipart-model.js";
import { parseMultipart, partHeaderLimits, type FormLimits } from "./form-parser.js";
import { discardFiles } from "./incoming-file.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const dir = tmpDir("mailspool-form-");
const store = new BlobStore(dir);
const inline = 64;
const limits: FormLimits = { maxBodyBytes: 1 << 20, inlineMaxBytes: inline, maxFiles: 100, maxFields: 50 };

function requestOf(chunks: Buffer[], contentType: string): Request {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(new Uint8Array(c));
      controller.close();
    },
  });
  return new Request("http://relay/api/email/send", {
    method: "POST",
    body: stream,
    headers: { "content-type": contentType },
    duplex: "half",
  } as RequestInit);
}

/** The parse result in comparable form; every spilled blob is discarded again. */
async function outcome(chunks: Buffer[], contentType: string) {
  try {
    const form = await parseMultipart(requestOf(chunks, contentType), contentType, limits, store);
    await discardFiles(form.files);
    return {
      status: 200,
      fields: form.fields,
      files: form.files.map((f) => ({
        filename: f.filename,
        contentType: f.contentType,
        sha256: f.sha256,
        size: f.size,
      })),
    };
  } catch (error) {
    if (!(error instanceof MailspoolError)) throw error;
    return { status: error.status, errors: error.errors };
  }
}

const leftovers = () => fs.readdirSync(dir);

describe("parseMultipart", () => {
  it("gives the model's answer whatever the chunking, and leaves no temp file", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestModel(inline, { malformed: true }),
        fc.array(fc.array(fc.nat(), { maxLength: 12 }), { minLength: 2, maxLength: 3 }),
        async (model: RequestModel, chunkings) => {
          const body = encodeRequest(model);
          const type = contentTypeOf(model);
          const results = [await outcome([body], type)];
          for (const cuts of chunkings) results.push(await outcome(chunked(body, cuts), type));
          for (const r of results.slice(1)) expect(r).toEqual(results[0]);
          const expected = expectedAnswer(model);
          const got = results[0]!;
          if (expected.status === 400) {
            expect(got.status).toBe(400);
            expect(got.errors?.map((e) => e.field)).toEqual([expected.field]);
          } else {
            expect(got).toMatchObject({ status: 200, fields: { receiver: expected.receivers.join(",") } });
            expect(got.files).toEqual(
              expected.files.map(({ filename, contentType, sha256, size }) => ({
                filename,
                contentType,
                sha256,
                size,
              })),
            );
          }
          expect(leftovers()).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("splits at every position of a body and in single bytes alike", async () => {
    const boundary = "bnd";
    const body = Buffer.from(
      `pre\r\n--${boundary}\r\ncontent-disposition: form-data; name="title"\r\n\r\nt\r\n--${boundary}  \r\n` +
        `Content-Type: text/plain\r\nContent-Disposition: form-data; name="attachment[]"; filename*=UTF-8''%E6%8A%A5.txt\r\n\r\n` +
        `\r\n--bn\r\n--bnX${"d".repeat(100)}\r\n--${boundary}--\r\nepilogue`,
    );
    const type = `multipart/form-data; boundary=${boundary}`;
    const whole = await outcome([body], type);
    expect(whole).toMatchObject({ status: 200, fields: { title: "t" }, files: [{ filename: "报.txt", size: 113 }] });
    for (let at = 0; at <= body.length; at++) expect(await outcome(chunked(body, [at]), type)).toEqual(whole);
    expect(
      await outcome(
        [...body].map((b) => Buffer.from([b])),
        type,
      ),
    ).toEqual(whole);
  });

  it("refuses content after the closing boundary wherever the body is split, and keeps an ordinary epilogue", async () => {
    const type = "multipart/form-data; boundary=b";
    const fields = '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--b--';
    const file = '--b\r\nContent-Disposition: form-data; name="attachment[]"; filename="a.txt"\r\n\r\nx\r\n--b--';
    for (const after of [`\r\n${file}`, `garbage\r\n${file}`, "x", " \t\r\ntext\r\n--b\r\n", "\r\n\r\n--b--"]) {
      const body = Buffer.from(fields + after);
      for (let at = 0; at <= body.length; at++)
        expect(await outcome(chunked(body, [at]), type)).toMatchObject({ status: 400, errors: [{ field: "body" }] });
    }
    for (const after of ["", "\r\n", " \t", " \t\r\nepilogue -b --b\r\n-- b\r\n", "\r\n\r\n--"]) {
      const body = Buffer.from(fields + after);
      for (let at = 0; at <= body.length; at++)
        expect(await outcome(chunked(body, [at]), type)).toMatchObject({ status: 200, fields: { title: "t" } });
    }
    expect(leftovers()).toEqual([]);
  });

  it("names the part for each way a part can be unreadable", async () => {
    const type = "multipart/form-data; boundary=b";
    const one = (head: string, data: Buffer = Buffer.from("x")) =>
      Buffer.concat([Buffer.from(`--b\r\n${head}\r\n\r\n`), data, Buffer.from("\r\n--b--\r\n")]);
    const field = async (head: string, data?: Buffer) =>
      (await outcome([one(head, data)], type)).errors?.map((e) => e.field);
    expect(await field("Content-Type: text/plain")).toEqual(["part[0]"]);
    expect(await field("Content-Disposition: form-data")).toEqual(["part[0]"]);
    expect(await field("Content-Disposition: attachment; name=title")).toEqual(["part[0]"]);
    expect(await field('Content-Disposition: form-data; name="ti\rtle"')).toEqual(["part[0]"]);
    expect(await field('Content-Disposition: form-data; name="title"; name="cc"')).toEqual(["part[0]"]);
    expect(await field('Content-Disposition: form-data; name="title"\r\n folded')).toEqual(["part[0]"]);
    expect(await field('Content-Disposition: form-data; name="title"\r\nX-A: a\0b')).toEqual(["part[0]"]);
    expect(await field("Content-Disposition: form-data; name=\"attachment[]\"; filename*=UTF-8''%FF.txt")).toEqual([
      "part[0]",
    ]);
    expect(await field('Content-Disposition: form-data; name="attachment[]"; filename="a\0.txt"')).toEqual([
      "attachment[0].filename",
    ]);
    expect(
      await field(
        'Content-Disposition: form-data; name="attachment[]"; filename="a.txt"\r\nContent-Type: text/plain\x01',
      ),
    ).toEqual(["attachment[0].contentType"]);
    expect(
      await field('Content-Disposition: form-data; name="title"\r\nContent-Type: text/plain; charset=latin1'),
    ).toEqual(["title"]);
    expect(await field('Content-Disposition: form-data; name="title"', Buffer.from([0xff]))).toEqual(["title"]);
    const inner = '--inner\r\nContent-Disposition: attachment; filename="x.exe"\r\n\r\nMZ\r\n--inner--';
    expect(
      await field(
        'Content-Disposition: form-data; name="content"\r\nContent-Type: multipart/mixed; boundary=inner',
        Buffer.from(inner),
      ),
    ).toEqual(["content"]);
    const lines = Array.from({ length: partHeaderLimits.maxLines }, (_, i) => `X-${i}: ${i}`).join("\r\n");
    expect(await field(`Content-Disposition: form-data; name="title"\r\n${lines}`)).toEqual(["part[0]"]);
    expect(await field(`Content-Disposition: form-data; name="title"\r\nX: ${"a".repeat(8192)}`)).toEqual(["part[0]"]);
    expect(await outcome([Buffer.from("no boundary here")], type)).toMatchObject({ errors: [{ field: "body" }] });
    expect(
      await outcome([Buffer.from("--b\r\nContent-Disposition: form-data; name=title\r\n\r\nx")], type),
    ).toMatchObject({
      errors: [{ field: "body" }],
    });
    expect(await outcome([one('Content-Disposition: form-data; name="title"')], "multipart/form-data")).toMatchObject({
      errors: [{ field: "Content-Type" }],
    });
    expect(leftovers()).toEqual([]);
  });
});
