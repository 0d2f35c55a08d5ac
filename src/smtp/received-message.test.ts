import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { BlobStore } from "../spool/blobs.js";
import {
  chunked,
  garbageHeaderMessage,
  generatedMessage,
  messageIdCount,
  splitAtHeaderEnd,
} from "../../test/helpers/generated-messages.js";
import { headerLimits, receiveMessage } from "./received-message.js";
import { tmpDir } from "../../test/helpers/tmp-dir.js";

const root = tmpDir("mailspool-received-");
let dirs = 0;
const newStore = () => {
  const dir = path.join(root, String(dirs++));
  fs.mkdirSync(dir);
  return new BlobStore(dir);
};
const options = (store: BlobStore, maxBytes = 1_000_000) => ({
  store,
  maxBytes,
  timeoutMs: 10_000,
  messageId: "<added@example.org>",
});
const sizes = (store: BlobStore) => fs.readdirSync(store.dir).map((f) => fs.statSync(path.join(store.dir, f)).size);

async function receive(chunks: Buffer[], store = newStore()) {
  const message = await receiveMessage(Readable.from(chunks), options(store));
  const { sha256 } = await message.blob.commit();
  return { ...message, stored: await store.read(sha256) };
}

/** A stream of `total` bytes in 64 KiB chunks that reports how many it handed out. */
function largeStream(first: Buffer, total: number, between?: () => void) {
  const state = { sent: 0 };
  async function* chunks() {
    yield first;
    state.sent = first.length;
    while (state.sent < total) {
      between?.();
      const chunk = Buffer.alloc(Math.min(65_536, total - state.sent), 0x61);
      state.sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), state };
}

describe("receiveMessage", () => {
  it("keeps every generated message byte for byte behind at most one added Message-ID, however it is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(
        generatedMessage.chain((m) => chunked(m.bytes).map((chunks) => ({ m, chunks }))),
        async ({ m, chunks }) => {
          const { stored, messageId } = await receive(chunks);
          const prefix = stored.subarray(0, stored.length - m.bytes.length);
          expect(stored.subarray(prefix.length).equals(m.bytes)).toBe(true);
          expect(prefix.length === 0).toBe(m.hasMessageId);
          const [header, body] = splitAtHeaderEnd(stored);
          expect(messageIdCount(header)).toBe(1);
          expect(body.equals(m.body)).toBe(true);
          expect(messageId).toBe(m.hasMessageId ? "<given@example.com>" : "<added@example.org>");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("uses the message's own line ending for the added header", async () => {
    expect((await receive([Buffer.from("hello\nworld\n")])).stored.toString()).toBe(
      "Message-ID: <added@example.org>\n\nhello\nworld\n",
    );
    expect((await receive([Buffer.from("\r\nbody\r\n")])).stored.toString()).toBe(
      "Message-ID: <added@example.org>\r\n\r\nbody\r\n",
    );
    expect((await receive([Buffer.from("Subject: s\n\nb\n")])).stored.toString()).toBe(
      "Message-ID: <added@example.org>\nSubject: s\n\nb\n",
    );
  });

  it("stops writing at the size limit, removes the temp blob at once and still reads the DATA to its end", async () => {
    const store = newStore();
    const limit = 200_000;
    let largest = 0;
    let goneWhileStreaming = false;
    const { stream, state } = largeStream(Buffer.from("Subject: big\r\n\r\n"), 3_000_000, () => {
      const now = sizes(store);
      largest = Math.max(largest, ...now);
      if (state.sent > limit && now.length === 0) goneWhileStreaming = true;
    });
    await expect(receiveMessage(stream, options(store, limit))).rejects.toMatchObject({ responseCode: 552 });
    expect(largest).toBeLessThanOrEqual(limit);
    expect(goneWhileStreaming).toBe(true);
    expect(state.sent).toBe(3_000_000);
    expect(fs.readdirSync(store.dir)).toEqual([]);
  });

  it.each([
    ["bytes", `Subject: ${"x".repeat(headerLimits.maxBytes)}\r\n\r\nbody`],
    ["lines", `${"X-A: b\r\n".repeat(headerLimits.maxLines + 1)}\r\nbody`],
  ])("refuses a header section over its limit in %s for good (5xx), after reading everything", async (_, text) => {
    const store = newStore();
    const { stream, state } = largeStream(Buffer.from(text), text.length + 500_000);
    const error = await receiveMessage(stream, options(store, 10_000_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailspoolError);
    expect((error as MailspoolError).status).toBeLessThan(500);
    expect(state.sent).toBe(text.length + 500_000);
    expect(fs.readdirSync(store.dir)).toEqual([]);
  });

  it("takes a header section right at its limits", async () => {
    const lines = "X-A: b\r\n".repeat(headerLimits.maxLines);
    expect((await receive([Buffer.from(`${lines}\r\nbody`)])).stored.length).toBeGreaterThan(lines.length);
  });

  it("classifies garbage in a header section as the client's error, never a transient one", async () => {
    await fc.assert(
      fc.asyncProperty(garbageHeaderMessage("\n"), async (bytes) => {
        const store = newStore();
        const outcome = await receive([bytes], store).catch((e: unknown) => e);
        if (outcome instanceof Error) expect((outcome as MailspoolError).status).toBeLessThan(500);
        else expect((outcome as { stored: Buffer }).stored.subarray(-bytes.length).equals(bytes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("gives up on a DATA that takes longer than its time with a 421 and no temp file", async () => {
    const store = newStore();
    const stream = new PassThrough();
    stream.write("Subject: slow\r\n\r\nstill coming");
    const started = Date.now();
    await expect(receiveMessage(stream, { ...options(store), timeoutMs: 200 })).rejects.toMatchObject({
      responseCode: 421,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(fs.readdirSync(store.dir)).toEqual([]);
  });
});
