// A send refused after its body was parsed — 409 for an Idempotency-Key reused with
// another request, 429 over a quota, 400 for a field checked at accept, or a repeat that
// queues nothing — releases its files: no temp file in blobs/ and no open descriptor into
// blobs/ in the running binary (/proc/<pid>/fd) after the answer. Generated sequences of
// sends (keys, file sizes around spool.inlineMaxBytes and up to 100 KB, multipart or JSON)
// against an oracle of the answers owed. A client that goes away mid-body, in any encoding
// and framing, is a 400 `body` (counted as invalid_param, never an error-level log line)
// that leaves nothing behind either. fsck is clean at the end.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { post, sendForm } from "../helpers/http.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const inline = 1024;
const quota = 20;
let dir: string;
let relay: RelayProcess;

beforeAll(async () => {
  dir = tmpDir();
  writeConfig(
    dir,
    ["spool:", `  inlineMaxBytes: ${inline}`, "quotas:", `  perClient: { hour: ${quota}, day: 0 }`].join("\n"),
  );
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  const fsck = runCli(["fsck"], dir);
  expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
});

const blobDir = () => path.join(dir, "data/blobs");
const tempFiles = () => fs.readdirSync(blobDir()).filter((n) => n.startsWith("."));
/** The relay's open descriptors on temp files in blobs/ (delivery reading a committed blob is no leak). */
function blobDescriptors(): string[] {
  const fdDir = `/proc/${relay.child.pid}/fd`;
  const targets: string[] = [];
  for (const fd of fs.readdirSync(fdDir)) {
    try {
      targets.push(fs.readlinkSync(path.join(fdDir, fd)));
    } catch {
      // closed between the listing and the read
    }
  }
  return targets.filter((t) => t.startsWith(blobDir()) && path.basename(t).startsWith("."));
}

interface Send {
  key: string | null;
  receiverOk: boolean;
  variant: number;
  size: number;
  encoding: "multipart" | "json";
}

const bytesOf = (s: Send) => Buffer.alloc(s.size, `${s.variant}-mailspool-`);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function send(s: Send) {
  const fields = { title: "refused", content: "<p>c</p>", receiver: s.receiverOk ? "a@example.com" : "not-an-address" };
  const headers: Record<string, string> = s.key ? { "idempotency-key": s.key } : {};
  if (s.encoding === "json") {
    const attachment = [{ filename: "r.bin", content: bytesOf(s).toString("base64"), contentType: "application/x-r" }];
    return post(relay.url, JSON.stringify({ ...fields, attachment }), {
      ...headers,
      "content-type": "application/json",
    });
  }
  return post(relay.url, sendForm(fields, [{ filename: "r.bin", type: "application/x-r", data: bytesOf(s) }]), headers);
}

/** What the relay owes: a remembered key decides first (repeat or 409), then the fields (400), then the quota (429). */
class Oracle {
  accepted = 0;
  readonly keys = new Map<string, string>();
  expect(s: Send): number {
    const identity = `${s.receiverOk}|${sha256(bytesOf(s))}`;
    const earlier = s.key === null ? undefined : this.keys.get(s.key);
    if (earlier !== undefined) return earlier === identity ? 200 : 409;
    if (!s.receiverOk) return 400;
    if (this.accepted >= quota) return 429;
    this.accepted += 1;
    if (s.key !== null) this.keys.set(s.key, identity);
    return 200;
  }
}

const oracle = new Oracle();
let run = 0;

async function checkSend(s: Send) {
  const expected = oracle.expect(s);
  const answer = await send(s);
  expect(answer.status, JSON.stringify(answer.body)).toBe(expected);
  expect(tempFiles()).toEqual([]);
  expect(blobDescriptors()).toEqual([]);
}

describe("refused sends release their files", () => {
  it("the review's example: a 200, then three 409s with another 100 KB file", async () => {
    const base = { receiverOk: true, size: 100 * 1024, encoding: "multipart" as const, key: "example" };
    await checkSend({ ...base, variant: 1 });
    for (let i = 0; i < 3; i++) await checkSend({ ...base, variant: 2 });
  });

  it("generated sequences of sends: 200, repeat, 409, 400 and 429 alike leave no temp file or descriptor", async () => {
    const sendOf = fc.record({
      key: fc.option(fc.constantFrom("k0", "k1"), { nil: null }),
      receiverOk: fc.boolean(),
      variant: fc.nat({ max: 2 }),
      size: fc.oneof(fc.integer({ min: inline - 2, max: inline + 2 }), fc.integer({ min: 0, max: 100 * 1024 })),
      encoding: fc.constantFrom("multipart" as const, "json" as const),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(sendOf, { minLength: 1, maxLength: 6 }), async (sends) => {
        run += 1;
        // keys are new in each run, so every run starts with a first use
        for (const s of sends) await checkSend({ ...s, key: s.key && `${s.key}-${run}` });
      }),
      // the oracle's state moves on with every send: a failure is reported as found, not shrunk
      { numRuns: 30, endOnFailure: true },
    );
    const fresh = { key: null, receiverOk: true, variant: 0, size: 100 * 1024, encoding: "multipart" as const };
    while (oracle.accepted < quota) await checkSend(fresh);
    await checkSend(fresh);
    await checkSend({ ...fresh, encoding: "json" });
  }, 120_000);

  it("a client gone mid-body: a 400 body in every encoding and framing, no error line, nothing left behind", async () => {
    const fields = { title: "gone", content: "<p>c</p>", receiver: "a@example.com" };
    const file = Buffer.alloc(100 * 1024, "gone-");
    const multipartBody = (bytes: Buffer) =>
      Buffer.concat([
        Buffer.from(
          Object.entries(fields)
            .map(([k, v]) => `--b\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
            .join(""),
        ),
        Buffer.from('--b\r\nContent-Disposition: form-data; name="attachment[]"; filename="g.bin"\r\n\r\n'),
        bytes,
        Buffer.from("\r\n--b--\r\n"),
      ]);
    const bodies = {
      json: [
        "application/json",
        Buffer.from(
          JSON.stringify({ ...fields, attachment: [{ filename: "g.bin", content: file.toString("base64") }] }),
        ),
      ],
      urlencoded: ["application/x-www-form-urlencoded", Buffer.from(new URLSearchParams(fields).toString())],
      // streamed (over form-parser's wholeBodyBytes) and read in one go (under it)
      multipart: ["multipart/form-data; boundary=b", multipartBody(file)],
      "small multipart": ["multipart/form-data; boundary=b", multipartBody(file.subarray(0, 2048))],
    } as const;
    const rejected = async (reason: string) => {
      const text = await fetch(`${relay.url}/metrics`).then((r) => r.text());
      return Number(new RegExp(`mailspool_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    /** Sends the headers, waits for 100 Continue (the relay is reading the body), sends `cut` bytes and goes away. */
    const sendAndVanish = (type: string, body: Buffer, cut: number, chunked: boolean) =>
      new Promise<void>((resolve, reject) => {
        const { port } = new URL(relay.url);
        const socket = net.connect(Number(port), "127.0.0.1", () =>
          socket.write(
            `POST /api/email/send HTTP/1.1\r\nHost: relay\r\nContent-Type: ${type}\r\nExpect: 100-continue\r\n` +
              (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${body.length}\r\n\r\n`),
          ),
        );
        socket.once("data", (reply) => {
          if (!reply.toString().startsWith("HTTP/1.1 100")) return reject(new Error(`relay said ${reply.toString()}`));
          const piece = body.subarray(0, cut);
          const framed =
            chunked && piece.length
              ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")])
              : piece;
          socket.write(framed, () => {
            socket.destroy();
            resolve();
          });
        });
        socket.on("error", reject);
      });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("json" as const, "urlencoded" as const, "multipart" as const, "small multipart" as const),
        fc.boolean(),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        async (encoding, chunked, fraction) => {
          const [type, body] = bodies[encoding];
          const before = await rejected("invalid_param");
          await sendAndVanish(type, body, Math.floor(body.length * fraction), chunked);
          await waitFor(async () => (await rejected("invalid_param")) > before, 10_000, "the refusal counted");
          expect(tempFiles()).toEqual([]);
          expect(blobDescriptors()).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
    expect(await rejected("internal")).toBe(0);
    expect(relay.output()).not.toMatch(/"level":50/);
    expect(relay.output()).toMatch(/"fields":\["body"\],"msg":"send refused"/);
  }, 120_000);
});
