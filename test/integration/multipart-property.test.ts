// Generated multipart bodies through the real binary (issue 10, "never drop silently"):
// random part header order, case and extra headers, random field and file order, file
// sizes around a small spool.inlineMaxBytes, list fields split over several parts, and
// malformed pieces. Sent whole or chunked in random pieces, each with a timeout. Never a
// 5xx, never a hang; a 200 only when every file part is in the status API and in the
// delivered .eml, in the order sent, byte for byte; a 400 names the part or field; a
// refused request leaves nothing in blobs/ and no record. fsck is clean at the end.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import {
  chunked,
  contentTypeOf,
  encodeRequest,
  expectedAnswer,
  requestModel,
  type RequestModel,
} from "../helpers/multipart-model.js";
import { scanSpool } from "../helpers/reliability.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const inline = 128;
let dir: string;
let relay: RelayProcess;

beforeAll(async () => {
  dir = tmpDir();
  writeConfig(
    dir,
    ["server:", "  maxBodyBytes: 1048576", "spool:", `  inlineMaxBytes: ${inline}`, "delivery:", "  workers: 2"].join(
      "\n",
    ),
  );
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  const fsck = runCli(["fsck"], dir);
  expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
});

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const blobs = () => fs.readdirSync(path.join(dir, "data/blobs")).sort();

async function send(body: Buffer, contentType: string, cuts: number[] | null) {
  const stream =
    cuts &&
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of chunked(body, cuts)) controller.enqueue(new Uint8Array(piece));
        controller.close();
      },
    });
  const response = await fetch(`${relay.url}/api/email/send`, {
    method: "POST",
    body: stream ?? body,
    headers: { "content-type": contentType },
    signal: AbortSignal.timeout(10_000),
    ...(stream ? { duplex: "half" } : {}),
  } as RequestInit);
  return { status: response.status, requestId: response.headers.get("x-request-id"), body: await response.json() };
}

async function checkOne(model: RequestModel, cuts: number[] | null) {
  const expected = expectedAnswer(model);
  const acceptedBefore = scanSpool(path.join(dir, "data")).accepted.size;
  const blobsBefore = blobs();
  const answer = await send(encodeRequest(model), contentTypeOf(model), cuts);
  expect(answer.requestId).toBeTruthy();
  expect(answer.body.code).toBe(answer.status);
  if (expected.status === 400) {
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toEqual([expected.field]);
    expect(scanSpool(path.join(dir, "data")).accepted.size).toBe(acceptedBefore);
    expect(blobs()).toEqual(blobsBefore);
    return;
  }
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const id = answer.body.data.id as string;
  const status = await fetch(`${relay.url}/api/email/${id}`).then((r) => r.json());
  expect(status.data.recipients.map((r: { address: string }) => r.address)).toEqual(expected.receivers);
  expect(status.data.attachments).toEqual(
    expected.files.map(({ filename, contentType, size, sha256 }) => ({ filename, contentType, size, sha256 })),
  );
  const eml = path.join(dir, "data/outbox", `${id}.eml`);
  await waitFor(() => fs.existsSync(eml), 10_000, `outbox/${id}.eml`);
  const mail = await simpleParser(fs.readFileSync(eml));
  expect(mail.attachments.map((a) => [a.filename, a.contentType, sha256(a.content)])).toEqual(
    expected.files.map((f) => [f.filename, f.contentType.split(";")[0], f.sha256]),
  );
  expect(blobs().filter((n) => n.startsWith("."))).toEqual([]);
}

describe("generated multipart bodies through the binary", () => {
  it("well-formed bodies: a 200 with every attachment, in order, byte for byte", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestModel(inline, { malformed: false }),
        fc.option(fc.array(fc.nat(), { maxLength: 8 }), { nil: null }),
        checkOne,
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it("malformed pieces: a 400 naming the part or field, nothing left behind", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestModel(inline, { malformed: true }),
        fc.option(fc.array(fc.nat(), { maxLength: 8 }), { nil: null }),
        checkOne,
      ),
      { numRuns: 80 },
    );
  }, 120_000);
});
