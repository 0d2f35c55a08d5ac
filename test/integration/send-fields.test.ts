// The send route's field rules, in memory through Hono's app.request() (the relay runs in
// this process, with its real spool): generated requests in all three encodings — unknown
// fields, single-valued fields given twice, list fields split over several entries,
// attachment content types with control characters — and a pickup file, which shares the
// JSON path. What was accepted is read back from the status API.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import { writePickupFile } from "../../src/pickup/pickup-file.js";
import { runCli } from "../helpers/cli.js";
import { unsafeNameChar } from "../helpers/multipart-model.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { waitFor } from "../helpers/tmp-dir.js";

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  relay = await startInProcess(["spool:", "  inlineMaxBytes: 16", "delivery:", "  maxRecipients: 50"].join("\n"), {
    pickupIntervalMs: 50,
  });
  app = createApp(relay.app);
});
afterAll(() => relay.stop());

type Entry = [string, string];
const encodings = ["json", "urlencoded", "multipart"] as const;
type Encoding = (typeof encodings)[number];

function encode(
  entries: Entry[],
  encoding: Encoding,
  spacing = "",
): { body: BodyInit; headers: Record<string, string> } {
  if (encoding === "json")
    // written by hand: duplicate keys are part of what is tested
    return {
      body: `{${entries.map(([k, v]) => `${spacing}${JSON.stringify(k)}${spacing}:${JSON.stringify(v)}`).join(",")}}`,
      headers: { "content-type": "application/json" },
    };
  if (encoding === "urlencoded") {
    const params = new URLSearchParams();
    for (const [k, v] of entries) params.append(k, v);
    return { body: params.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  const form = new FormData();
  for (const [k, v] of entries) form.append(k, v);
  return { body: form, headers: {} };
}

async function send(entries: Entry[], encoding: Encoding, spacing = "") {
  const { body, headers } = encode(entries, encoding, spacing);
  const response = await app.request(
    "/api/email/send",
    { method: "POST", body, headers },
    { remoteAddress: "127.0.0.1" },
  );
  return {
    status: response.status,
    body: (await response.json()) as any,
    requestId: response.headers.get("x-request-id"),
  };
}

/** POSTs a body as it is, with its Content-Type; the answer's status and JSON. */
async function postBody(body: BodyInit, contentType: string) {
  const response = await app.request(
    "/api/email/send",
    { method: "POST", body, headers: { "content-type": contentType } },
    { remoteAddress: "127.0.0.1" },
  );
  return { status: response.status, body: (await response.json()) as any };
}

/** The fields a refusal names (undefined for a 200). */
const refusedFields = async (body: BodyInit, contentType: string) =>
  (await postBody(body, contentType)).body.data?.errors?.map((e: { field: string }) => e.field);

async function statusOf(id: string) {
  const response = await app.request(`/api/email/${id}`, {}, { remoteAddress: "127.0.0.1" });
  return ((await response.json()) as any).data;
}

/** What the rules owe a request: the first unknown or repeated single field decides the 400. */
function oracle(entries: Entry[]) {
  const single = new Set(["title", "content", "text", "sender_name", "reply_to"]);
  const lists: Record<string, string[]> = { receiver: [], cc: [], bcc: [] };
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (!single.has(name) && !(name in lists)) return { status: 400, field: name };
    if (single.has(name) && seen.has(name)) return { status: 400, field: name };
    seen.add(name);
  }
  for (const [name, value] of entries) if (name in lists) lists[name]!.push(value);
  for (const required of ["title", "content", "receiver"])
    if (!seen.has(required)) return { status: 400, field: required };
  const recipients = (["receiver", "cc", "bcc"] as const).flatMap((kind) =>
    lists[kind]!.map((address) => `${kind === "receiver" ? "to" : kind}:${address}`),
  );
  return { status: 200, recipients };
}

let counter = 0;
const entry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Entry>(["title", "t ✓"], ["content", "<p>c</p>"], ["text", "c"]) },
  { weight: 2, arbitrary: fc.constantFrom<Entry>(["sender_name", "Jörg"], ["reply_to", "r@example.org"]) },
  {
    weight: 8,
    arbitrary: fc
      .constantFrom("receiver", "cc", "bcc")
      .map((name): Entry => [name, `${name}${(counter += 1)}@example.com`]),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Entry>(
      ["sendAt", "2030-01-01T00:00:00Z"],
      ["header", "X-A: 1"],
      ["priority", "high"],
      ["Title", "t"],
      ["receivers", "x@example.com"],
    ),
  },
);

describe("field rules, the same in every encoding", () => {
  it("refuses unknown and repeated single fields by name, joins list fields in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(...encodings),
        fc.constantFrom("", " ", "\n\t"),
        async (entries, encoding, spacing) => {
          const expected = oracle(entries);
          const answer = await send(entries, encoding, spacing);
          expect(answer.requestId).toBeTruthy();
          expect(answer.status, JSON.stringify(answer.body)).toBe(expected.status);
          if (expected.status === 400) {
            expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toContain(expected.field);
            return;
          }
          const status = await statusOf(answer.body.data.id);
          expect(status.recipients.map((r: { kind: string; address: string }) => `${r.kind}:${r.address}`)).toEqual(
            expected.recipients,
          );
        },
      ),
      { numRuns: 120 },
    );
  });

  it("joins receiver_name like receiver, and shows each recipient's display name", async () => {
    for (const encoding of encodings) {
      const answer = await send(
        [
          ["title", "names"],
          ["content", "c"],
          ["receiver", "a@example.com,b@example.com"],
          ["receiver_name", "Ann,Bo"],
          ["receiver", "c@example.com"],
          ["receiver_name", "Cy"],
        ],
        encoding,
      );
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const status = await statusOf(answer.body.data.id);
      expect(status.recipients.map((r: { address: string; name: string | null }) => [r.address, r.name])).toEqual([
        ["a@example.com", "Ann"],
        ["b@example.com", "Bo"],
        ["c@example.com", "Cy"],
      ]);
    }
  });

  it("JSON: a list field must be a string; attachment and attachment[] are both kept, in order", async () => {
    const ok = { title: "t", content: "c", receiver: "a@example.com" };
    const array = await app.request(
      "/api/email/send",
      {
        method: "POST",
        body: JSON.stringify({ ...ok, cc: ["b@example.com"] }),
        headers: { "content-type": "application/json" },
      },
      { remoteAddress: "127.0.0.1" },
    );
    expect(array.status).toBe(400);
    expect(((await array.json()) as any).data.errors[0].field).toBe("cc");
    const file = (name: string) => ({ filename: name, content: Buffer.from(name.repeat(10)).toString("base64") });
    const both = await app.request(
      "/api/email/send",
      {
        method: "POST",
        body: `{"title":"t","content":"c","receiver":"a@example.com","attachment[]":[${JSON.stringify(file("1.txt"))}],"attachment":[${JSON.stringify(file("2.txt"))},${JSON.stringify(file("3.txt"))}]}`,
        headers: { "content-type": "application/json" },
      },
      { remoteAddress: "127.0.0.1" },
    );
    expect(both.status).toBe(200);
    const status = await statusOf(((await both.json()) as any).data.id);
    expect(status.attachments.map((a: { filename: string }) => a.filename)).toEqual(["1.txt", "2.txt", "3.txt"]);
    expect(status.attachments[0]).toEqual({
      filename: "1.txt",
      contentType: "application/octet-stream",
      size: 50,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it("refuses a content type with a control character anywhere, in JSON and in a part header", async () => {
    const control = fc.integer({ min: 0, max: 0x20 }).map((c) => String.fromCharCode(c === 0x20 ? 0x7f : c));
    const types = fc
      .tuple(fc.constantFrom("text/plain", "text/plain; charset=utf-8", 'text/csv; x="a b"'), control, fc.nat())
      .map(([type, c, at]) => {
        const i = at % (type.length + 1);
        return type.slice(0, i) + c + type.slice(i);
      });
    await fc.assert(
      fc.asyncProperty(
        types,
        fc.constantFrom("json", "multipart"),
        fc.nat({ max: 2 }),
        async (type, encoding, before) => {
          const files = Array.from({ length: before }, (_, i) => ({ name: `ok${i}.txt`, type: "text/plain" }));
          files.push({ name: "bad.txt", type });
          let answer: Response;
          if (encoding === "json") {
            const attachment = files.map((f) => ({ filename: f.name, content: "eA==", contentType: f.type }));
            answer = await app.request(
              "/api/email/send",
              {
                method: "POST",
                body: JSON.stringify({ title: "t", content: "c", receiver: "a@example.com", attachment }),
                headers: { "content-type": "application/json" },
              },
              { remoteAddress: "127.0.0.1" },
            );
          } else {
            const head = (f: { name: string; type: string }) =>
              `--b\r\nContent-Disposition: form-data; name="attachment[]"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\nx\r\n`;
            const field = (name: string, value: string) =>
              `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
            const fields = field("title", "t") + field("content", "c") + field("receiver", "a@example.com");
            const body = `${fields}${files.map(head).join("")}--b--\r\n`;
            answer = await app.request(
              "/api/email/send",
              { method: "POST", body, headers: { "content-type": "multipart/form-data; boundary=b" } },
              { remoteAddress: "127.0.0.1" },
            );
          }
          // a part header's value is trimmed of spaces and tabs (they are whitespace there, not part of the type)
          if (encoding === "multipart" && !/[\0-\x1f\x7f]/.test(type.replace(/^[ \t]+|[ \t]+$/g, ""))) {
            expect(answer.status).toBe(200);
            return;
          }
          expect(answer.status).toBe(400);
          const fields = ((await answer.json()) as any).data.errors.map((e: { field: string }) => e.field);
          expect(fields).toEqual([`attachment[${before}].contentType`]);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("text is UTF-8 in every encoding: invalid bytes, raw or %-escaped, are a 400, never U+FFFD", async () => {
    const invalid = fc.constantFrom([0xe9], [0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0xaf]);
    const text = fc.constantFrom("café", "月报 ✓", "a+b c", "100% sure", "x=y&z", "😀");
    const urlText = (t: string) => encodeURIComponent(t).replace(/%20/g, "+");
    /** The body as text, with a \u0001 where the target field's value ends (bad bytes go there). */
    const bodyText = (entries: Entry[], target: string, encoding: Encoding): [string, string] => {
      const marked = (k: string, v: string) => (k === target ? `${v}\u0001` : v);
      if (encoding === "json")
        return [
          `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v).slice(0, -1)}${marked(k, "")}"`).join(",")}}`,
          "application/json",
        ];
      if (encoding === "urlencoded")
        return [
          entries.map(([k, v]) => `${urlText(k)}=${marked(k, urlText(v))}`).join("&"),
          "application/x-www-form-urlencoded",
        ];
      const parts = entries.map(
        ([k, v]) => `--b\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${marked(k, v)}\r\n`,
      );
      return [`${parts.join("")}--b--\r\n`, "multipart/form-data; boundary=b"];
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("title", "content", "receiver_name", "text"),
        fc.option(invalid, { nil: null }),
        text,
        fc.constantFrom(...encodings),
        fc.boolean(),
        fc.nat(),
        async (name, bad, value, encoding, escaped, at) => {
          const entries = (
            [
              ["title", "t"],
              ["content", "c"],
              ["receiver", "a@example.com"],
            ] as Entry[]
          ).filter(([k]) => k !== name);
          entries.splice(at % (entries.length + 1), 0, [name, value]);
          const [textBody, contentType] = bodyText(entries, name, encoding);
          const [before, after] = textBody.split("\u0001");
          const badBytes =
            bad === null
              ? Buffer.alloc(0)
              : encoding === "urlencoded" && escaped
                ? Buffer.from(bad.map((b) => `%${b.toString(16).toUpperCase()}`).join(""))
                : Buffer.from(bad);
          const body = Buffer.concat([Buffer.from(before!), badBytes, Buffer.from(after!)]);
          const { status, body: answer } = await postBody(body, contentType);
          if (bad !== null) {
            expect(status, JSON.stringify(answer)).toBe(400);
            expect(answer.data.errors.map((e: { field: string }) => e.field)).toEqual([
              encoding === "json" ? "body" : name,
            ]);
            return;
          }
          expect(status, JSON.stringify(answer)).toBe(200);
          if (name === "title") expect((await statusOf(answer.data.id)).subject).toBe(value);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("urlencoded: a malformed %-escape is a 400 naming its field; a declared charset other than UTF-8 is refused", async () => {
    const form = "application/x-www-form-urlencoded";
    for (const escape of ["%zz", "%E", "%", "%E9", "%C3%28"])
      expect(await refusedFields(`title=caf${escape}&content=c&receiver=a%40example.com`, form)).toEqual(["title"]);
    expect(await refusedFields("ti%FFtle=x&content=c&receiver=a%40example.com", form)).toEqual(["body"]);
    expect(await refusedFields("send_at=%E9&title=t", form)).toEqual(["send_at"]);
    const ok = `title=t&content=c&receiver=a%40example.com`;
    const json = JSON.stringify({ title: "t", content: "c", receiver: "a@example.com" });
    for (const charset of ["iso-8859-1", "windows-1252", '"utf-16"', "latin1"]) {
      expect(await refusedFields(ok, `${form}; charset=${charset}`)).toEqual(["Content-Type"]);
      expect(await refusedFields(json, `application/json; charset=${charset}`)).toEqual(["Content-Type"]);
    }
    for (const charset of ["utf-8", "UTF-8", '"utf-8"', "us-ascii"]) {
      expect(await refusedFields(ok, `${form}; charset=${charset}`)).toBeUndefined();
      expect(await refusedFields(json, `application/json;charset=${charset}`)).toBeUndefined();
    }
  });

  it("JSON attachment objects: exactly filename, content, contentType, no key twice, strict base64", async () => {
    type Content = "plain" | "wrapped" | "drop-char" | "extra-char" | "bad-char" | "inner-pad";
    const valid = new Set<Content>(["plain", "wrapped"]);
    const contentOf = (data: Uint8Array, kind: Content, at: number) => {
      const b64 = Buffer.from(data).toString("base64");
      const i = b64.length ? at % b64.length : 0;
      switch (kind) {
        case "plain":
          return b64;
        case "wrapped":
          return b64.replace(/.{1,8}/g, (m) => `${m}${["\r\n", "\n", " ", "\t"][at % 4]}`);
        case "drop-char":
          return b64.slice(0, i) + b64.slice(i + 1);
        case "extra-char":
          return `${b64}${"Ax="[at % 3]}`;
        case "bad-char":
          return `${b64.slice(0, i)}${"!-_.é"[at % 5]}${b64.slice(i + 1)}`;
        case "inner-pad":
          return `AA==${b64}`;
      }
    };
    const attachment = fc.record({
      data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      content: fc.constantFrom<Content>(
        "plain",
        "plain",
        "wrapped",
        "drop-char",
        "extra-char",
        "bad-char",
        "inner-pad",
      ),
      at: fc.nat(),
      withType: fc.boolean(),
      extra: fc.option(fc.constantFrom("encoding", "cid", "inline", "path", "href", "Filename", "content_type"), {
        nil: undefined,
      }),
      repeat: fc.option(fc.constantFrom("filename", "content", "contentType"), { nil: undefined }),
      // in JSON a lone surrogate can be written too (\ud800)
      unsafe: fc.option(fc.oneof(unsafeNameChar, fc.constantFrom("\ud800", "\udfff")), { nil: undefined }),
      order: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(attachment, { minLength: 1, maxLength: 4 }), async (items) => {
        const objects = items.map((a, n) => {
          const members: [string, unknown][] = [
            ["filename", a.unsafe === undefined ? `f${n}.bin` : `f${n}${a.unsafe}.bin`],
            ["content", contentOf(a.data, a.content, a.at)],
          ];
          if (a.withType || a.repeat === "contentType") members.push(["contentType", "application/x-test"]);
          if (a.extra) members.push([a.extra, a.extra === "inline" ? true : "utf-8"]);
          if (a.repeat) members.push([a.repeat, members.find(([k]) => k === a.repeat)![1]]);
          const rotated = members.map((_, i) => members[(i + a.order) % members.length]!);
          return `{${rotated.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
        });
        const body = `{"title":"t","content":"c","receiver":"a@example.com","attachment":[${objects.join(",")}]}`;
        // a repeat is found while the text is read, then each object's keys, then its content as it is stored
        const repeated = items.findIndex((a) => a.repeat);
        // zod's key check comes before the name's
        const unknown = items.findIndex((a) => a.extra || a.unsafe);
        const badContent = items.findIndex((a) => !valid.has(a.content));
        const field =
          repeated >= 0
            ? `attachment[${repeated}].${items[repeated]!.repeat}`
            : unknown >= 0
              ? `attachment[${unknown}].${items[unknown]!.extra ?? "filename"}`
              : badContent >= 0
                ? `attachment[${badContent}].content`
                : null;
        const { status, body: answer } = await postBody(body, "application/json");
        if (field) {
          expect(status, body).toBe(400);
          expect(answer.data.errors.map((e: { field: string }) => e.field)).toEqual([field]);
          return;
        }
        expect(status, JSON.stringify(answer)).toBe(200);
        const accepted = await statusOf(answer.data.id);
        expect(accepted.attachments.map((a: { sha256: string }) => a.sha256)).toEqual(
          items.map((a) => createHash("sha256").update(a.data).digest("hex")),
        );
      }),
      { numRuns: 150 },
    );
  });

  it("JSON attachment objects: the review's examples", async () => {
    const sendJson = (body: string) => refusedFields(body, "application/json");
    const mail = (attachment: string, extra = "") =>
      `{"title":"t","content":"c","receiver":"a@example.com","attachment":[${attachment}]${extra}}`;
    expect(await sendJson(mail('{"filename":"a.txt","content":"hello","encoding":"utf-8"}'))).toEqual([
      "attachment[0].encoding",
    ]);
    expect(await sendJson(mail('{"filename":"a.png","content":"eA==","cid":"logo","inline":true}'))).toEqual([
      "attachment[0].cid",
      "attachment[0].inline",
    ]);
    expect(await sendJson(mail('{"filename":"a.txt","content":"eA==","filename":"b.txt"}'))).toEqual([
      "attachment[0].filename",
    ]);
    expect(await sendJson(mail('{"filename":"a.txt","content":"aGVsbG8gd29ybGQhx"}'))).toEqual([
      "attachment[0].content",
    ]);
    expect(await sendJson(mail('{"filename":"a.txt","content":"a"}'))).toEqual(["attachment[0].content"]);
    expect(await sendJson(mail('{"filename":"invoice\\u202etxt.exe","content":"eA=="}'))).toEqual([
      "attachment[0].filename",
    ]);
    // the last group's unused bits must be zero
    expect(await sendJson(mail('{"filename":"a.txt","content":"aGVsbB=="}'))).toEqual(["attachment[0].content"]);
    expect(await sendJson(mail('{"filename":"a.txt","content":"eA=="}', ',"meta":{"k":1,"k":2}'))).toEqual(["meta.k"]);
    expect(await sendJson(mail('{"filename":"a.txt","content":"aGVs\\r\\nbG8="}'))).toBeUndefined();
  });

  it("spool show lists the same attachments and display names as the status API", async () => {
    const response = await app.request(
      "/api/email/send",
      {
        method: "POST",
        body: JSON.stringify({
          title: "show",
          content: "c",
          receiver: "a@example.com,b@example.com",
          receiver_name: "Ann Ö,",
          attachment: [
            { filename: "报告.pdf", content: Buffer.alloc(40, 1).toString("base64"), contentType: "application/pdf" },
          ],
        }),
        headers: { "content-type": "application/json" },
      },
      { remoteAddress: "127.0.0.1" },
    );
    const id = ((await response.json()) as any).data.id;
    const status = await statusOf(id);
    const show = runCli(["spool", "show", id], relay.dir);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.attachments).toEqual(status.attachments);
    expect(shown.attachments).toEqual([
      {
        filename: "报告.pdf",
        contentType: "application/pdf",
        size: 40,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    expect(shown.recipients.map((r: { name: string | null }) => r.name)).toEqual(["Ann Ö", null]);
    expect(show.stdout).not.toContain(Buffer.alloc(40, 1).toString("base64"));
  });

  it("a pickup file gets the same rules: an unknown field is refused by name", async () => {
    const pickup = path.join(relay.dir, "data/pickup");
    const name = writePickupFile(pickup, "rules", {
      title: "t",
      content: "c",
      receiver: "a@example.com",
      schedule: "x",
    });
    const reason = path.join(pickup, "rejected", `${name}.reason.txt`);
    await waitFor(() => fs.existsSync(reason), 10_000, "the pickup file's rejection");
    expect(fs.readFileSync(reason, "utf8")).toContain("schedule: unknown field");
  });
});
