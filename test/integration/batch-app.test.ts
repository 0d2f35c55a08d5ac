// POST /api/email/batch in memory (Hono app.request() over the real spool, intake and
// delivery of an in-process relay, delivery paused so the spool holds only what intake
// wrote): ids in order and one group commit; generated batches with one broken element
// refused whole (400 naming that element) leaving no record and no file; the limits; the
// Idempotency-Key over a batch (same body, other body, a send under the same key).
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";

const maxBatch = 8;
const maxBodyBytes = 200_000;

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  relay = await startInProcess(
    ["server:", `  maxBatch: ${maxBatch}`, `  maxBodyBytes: ${maxBodyBytes}`, "spool:", "  inlineMaxBytes: 16"].join(
      "\n",
    ),
  );
  app = createApp(relay.app);
  await relay.app.admin.setPaused(true);
});
afterAll(() => relay.stop());

async function postBatch(body: string, headers: Record<string, string> = {}, urlPath = "/api/email/batch") {
  const response = await app.request(
    urlPath,
    { method: "POST", body, headers: { "content-type": "application/json", ...headers } },
    { remoteAddress: "127.0.0.1" },
  );
  return { status: response.status, body: (await response.json()) as any };
}

const mail = (n: number, extra: Record<string, unknown> = {}) => ({
  title: `batch mail ${n}`,
  content: `<p>${n}</p>`,
  receiver: `r${n}@example.com`,
  ...extra,
});
const attachment = (bytes: number) => ({
  filename: `f${bytes}.bin`,
  content: Buffer.alloc(bytes, 7).toString("base64"),
  contentType: "application/octet-stream",
});

/** What intake left on disk: the mails in the index and every file under blobs/ (committed or temp). */
function leftOnDisk() {
  const blobs = path.join(relay.dir, "data/blobs");
  return { mails: relay.spool.index.size, files: fs.readdirSync(blobs, { recursive: true }).sort() };
}

describe("POST /api/email/batch", () => {
  it("stores every mail in one commit and answers the ids in order", async () => {
    const before = { ...relay.spool.commitStats };
    const mails = [
      mail(1, { attachment: [attachment(20)] }),
      mail(2, { attachment: [attachment(10), attachment(100)] }),
      mail(3, { cc: "c@example.com", attachment: [attachment(300)] }),
    ];
    const answer = await postBatch(JSON.stringify(mails));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ code: 200, message: "success" });
    const ids = answer.body.data.ids as string[];
    expect(ids).toHaveLength(3);
    expect(relay.spool.commitStats.lines - before.lines).toBe(3);
    expect(relay.spool.commitStats.batches - before.batches).toBe(1);
    const sizes = [];
    for (const [i, id] of ids.entries()) {
      const status = await app.request(`/api/email/${id}`, {}, { remoteAddress: "127.0.0.1" });
      const data = ((await status.json()) as any).data;
      expect(data.subject).toBe(`batch mail ${i + 1}`);
      expect(data.state).toBe("queued");
      sizes.push(data.attachments.map((a: { size: number }) => a.size));
    }
    expect(sizes).toEqual([[20], [10, 100], [300]]);
  });

  // each breaks one element; the field it is named by (under `[i].`)
  const breakers: [string, (m: Record<string, unknown>) => string, string][] = [
    ["no receiver", (m) => JSON.stringify({ ...m, receiver: undefined }), "receiver"],
    ["bad address", (m) => JSON.stringify({ ...m, receiver: "not an address" }), "receiver"],
    ["unknown field", (m) => JSON.stringify({ ...m, priority: "high" }), "priority"],
    ["CR in the title", (m) => JSON.stringify({ ...m, title: "a\r\nBcc: x@example.com" }), "title"],
    ["title twice", (m) => JSON.stringify(m).replace(/^\{/, '{"title":"again",'), "title"],
    [
      "a key repeated in an attachment",
      (m) =>
        JSON.stringify({ ...m, attachment: [attachment(40)] }).replace('"filename":', '"filename":"x","filename":'),
      "attachment[0].filename",
    ],
    [
      "content not base64",
      (m) => JSON.stringify({ ...m, attachment: [{ filename: "a", content: "@@@" }] }),
      "attachment[0].content",
    ],
    ["not an object", () => '"just text"', ""],
  ];

  it("refuses a batch with one broken element whole: 400 naming it, nothing stored, no file left", async () => {
    const before = leftOnDisk();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ n: fc.nat(1000), bytes: fc.constantFrom(0, 10, 300) }), {
          minLength: 1,
          maxLength: maxBatch,
        }),
        fc.nat(),
        fc.constantFrom(...breakers),
        async (elements, pick, [, breakElement, field]) => {
          const broken = pick % elements.length;
          const texts = elements.map(({ n, bytes }) =>
            JSON.stringify(mail(n, bytes ? { attachment: [attachment(bytes)] } : {})),
          );
          texts[broken] = breakElement(mail(elements[broken]!.n));
          const answer = await postBatch(`[${texts.join(",")}]`);
          expect(answer.status).toBe(400);
          const fields = answer.body.data.errors.map((e: { field: string }) => e.field);
          expect(fields).toContain(field ? `[${broken}].${field}` : `[${broken}]`);
          for (const f of fields) expect(f.startsWith(`[${broken}]`)).toBe(true);
          expect(leftOnDisk()).toEqual(before);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("lists every failing element, not only the first", async () => {
    const answer = await postBatch(JSON.stringify([mail(1, { receiver: "" }), mail(2), mail(3, { bogus: "1" })]));
    expect(answer.status).toBe(400);
    expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toEqual(["[0].receiver", "[2].bogus"]);
  });

  it("keeps to its limits: at least one mail, at most server.maxBatch, JSON only, the body under maxBodyBytes", async () => {
    const refused = async (body: string, headers: Record<string, string> = {}) => {
      const answer = await postBatch(body, headers);
      return [answer.status, answer.body.data?.errors?.[0]?.field ?? answer.body.message];
    };
    expect(await refused("[]")).toEqual([400, "body"]);
    expect(await refused(JSON.stringify(Array.from({ length: maxBatch + 1 }, (_, i) => mail(i))))).toEqual([
      400,
      "body",
    ]);
    expect(await refused(JSON.stringify(mail(1)))).toEqual([400, "body"]);
    expect(await refused("[{")).toEqual([400, "body"]);
    expect(await refused("title=x", { "content-type": "application/x-www-form-urlencoded" })).toEqual([
      415,
      "Content-Type",
    ]);
    expect(await refused(JSON.stringify([mail(1, { content: "x".repeat(maxBodyBytes) })]))).toEqual([
      413,
      `Request body exceeds ${maxBodyBytes} bytes`,
    ]);
  });

  it("applies an Idempotency-Key to the batch as a whole", async () => {
    const body = JSON.stringify([mail(10), mail(11, { attachment: [attachment(50)] })]);
    const first = await postBatch(body, { "idempotency-key": "batch-key" });
    expect(first.status).toBe(200);
    const mails = relay.spool.index.size;
    const again = await postBatch(body, { "idempotency-key": "batch-key" });
    expect(again.body.data.ids).toEqual(first.body.data.ids);
    expect(relay.spool.index.size).toBe(mails);
    const other = await postBatch(JSON.stringify([mail(10)]), { "idempotency-key": "batch-key" });
    expect(other.status).toBe(409);
    const send = await postBatch(JSON.stringify(mail(10)), { "idempotency-key": "batch-key" }, "/api/email/send");
    expect(send.status).toBe(409);
    expect(relay.spool.index.size).toBe(mails);
  });

  it("completes a batch whose first request stored only some mails, keeping their ids", async () => {
    const mails = [mail(20), mail(21), mail(22), mail(23)];
    // what a crash mid-commit can leave: the records of some of the batch's mails, with their keys
    const { batchHash, batchItemKey, scopedKey } = await import("../../src/intake/idempotency.js");
    const { sendInputFromMembers } = await import("../../src/intake/send-request.js");
    const inputs = await Promise.all(
      mails.map((m) => sendInputFromMembers(Object.entries(m), relay.app.intake.accept.limits, relay.spool.blobs)),
    );
    const valid = relay.app.intake.accept.validateBatch(inputs.map((input) => ({ input })));
    const key = scopedKey("ip:127.0.0.1", "crashed-batch");
    const requestHash = batchHash(inputs);
    const landed = await relay.app.intake.accept.acceptBatch(
      [0, 2].map((at) => ({ mail: valid[at]!, idempotency: { key: batchItemKey(key, at), requestHash } })),
      "ip:127.0.0.1",
    );
    const before = relay.spool.index.size;
    const retry = await postBatch(JSON.stringify(mails), { "idempotency-key": "crashed-batch" });
    expect(retry.status).toBe(200);
    const ids = retry.body.data.ids as string[];
    expect([ids[0], ids[2]]).toEqual(landed);
    expect(new Set(ids).size).toBe(4);
    expect(relay.spool.index.size).toBe(before + 2);
    const again = await postBatch(JSON.stringify(mails), { "idempotency-key": "crashed-batch" });
    expect(again.body.data.ids).toEqual(ids);
  });
});
