// Every oversize body gets the JSON 413 promptly, on raw sockets (issue 10, "nothing
// hangs"): chunked or with a Content-Length, one large file part (spilled to a blob temp
// file) or many small parts, JSON and urlencoded, a declared length just over the limit,
// far over it and over what was Bun's own guard, Expect: 100-continue, another route.
// Each answer carries the envelope and X-Request-Id; afterwards no temp file is left in
// blobs/, no descriptor of one is open, and the relay never logged an unclosed FileHandle.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const limit = 1024 * 1024;

function chunkedFraming(body: Buffer, size = 32 * 1024): Buffer {
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    pieces.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
  }
  pieces.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(pieces);
}

function multipartBody(files: number, fileBytes: number): Buffer {
  const parts = [
    Buffer.from('--zz\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'),
    Buffer.from('--zz\r\nContent-Disposition: form-data; name="content"\r\n\r\nc\r\n'),
    Buffer.from('--zz\r\nContent-Disposition: form-data; name="receiver"\r\n\r\na@example.com\r\n'),
  ];
  for (let i = 0; i < files; i++)
    parts.push(
      Buffer.from(`--zz\r\nContent-Disposition: form-data; name="attachment[]"; filename="f${i}.bin"\r\n\r\n`),
      Buffer.alloc(fileBytes, 0x41 + (i % 26)),
      Buffer.from("\r\n"),
    );
  parts.push(Buffer.from("--zz--\r\n"));
  return Buffer.concat(parts);
}

interface Case {
  name: string;
  path?: string;
  contentType: string;
  body: Buffer;
  chunked: boolean;
  /** Declared Content-Length when it differs from the body sent (the body then is not sent). */
  declared?: number;
  extraHeaders?: string[];
}

const cases: Case[] = [
  {
    name: "chunked, one file part larger than inlineMaxBytes",
    contentType: "multipart/form-data; boundary=zz",
    body: multipartBody(1, 3 * limit),
    chunked: true,
  },
  {
    name: "chunked, many small file parts",
    contentType: "multipart/form-data; boundary=zz",
    body: multipartBody(60, 50_000),
    chunked: true,
  },
  {
    name: "Content-Length, one large file part",
    contentType: "multipart/form-data; boundary=zz",
    body: multipartBody(1, limit + 200_000),
    chunked: false,
  },
  {
    name: "Content-Length, many small file parts",
    contentType: "multipart/form-data; boundary=zz",
    body: multipartBody(30, 50_000),
    chunked: false,
  },
  {
    name: "Content-Length far over the limit, body streamed",
    contentType: "multipart/form-data; boundary=zz",
    body: multipartBody(1, 8 * limit),
    chunked: false,
  },
  {
    name: "chunked JSON",
    contentType: "application/json",
    body: Buffer.from(JSON.stringify({ title: "t", content: "x".repeat(2 * limit) })),
    chunked: true,
  },
  {
    name: "chunked urlencoded",
    contentType: "application/x-www-form-urlencoded",
    body: Buffer.from(`title=t&content=${"x".repeat(2 * limit)}`),
    chunked: true,
  },
  {
    name: "declared 3 GiB, body never sent",
    contentType: "multipart/form-data; boundary=zz",
    body: Buffer.alloc(0),
    chunked: false,
    declared: 3 * 1024 ** 3,
  },
  {
    name: "declared just over the limit, body held back",
    contentType: "application/json",
    body: Buffer.alloc(0),
    chunked: false,
    declared: limit + 10,
  },
  {
    name: "Expect: 100-continue over the limit",
    contentType: "application/json",
    body: Buffer.alloc(0),
    chunked: false,
    declared: 5 * limit,
    extraHeaders: ["Expect: 100-continue"],
  },
  {
    name: "another route, chunked",
    path: "/admin/retry-failed",
    contentType: "application/json",
    body: Buffer.alloc(2 * limit, 0x20),
    chunked: true,
  },
  {
    name: "another route, declared 3 GiB",
    path: "/admin/retry-failed",
    contentType: "application/json",
    body: Buffer.alloc(0),
    chunked: false,
    declared: 3 * 1024 ** 3,
  },
];

/** A client that writes its whole body as fast as it can and only then looks at the answer (Node's http client). */
function streamingPost(url: string, contentType: string, size: number, chunked: boolean) {
  const target = new URL(`${url}/api/email/send`);
  return new Promise<{ status: number; body: string }>((resolve) => {
    const request = http.request({
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      // one connection per request: what is tested is the answer to this request, not keep-alive
      agent: false,
      headers: {
        "content-type": contentType,
        ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": size }),
      },
    });
    request.setTimeout(10_000, () => request.destroy());
    request.on("response", (response) => {
      let body = "";
      response.on("data", (c) => (body += c));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    const t0 = Date.now();
    request.on("error", (error) =>
      resolve({ status: 0, body: `${String(error)} after ${Date.now() - t0} ms, ${sent} sent` }),
    );
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const next = piece.subarray(0, Math.min(piece.length, size - sent));
        sent += next.length;
        if (!request.write(next)) return void request.once("drain", pump);
      }
      request.end();
    };
    pump();
  });
}

describe.each(["binary", "bundle"] as const)("oversize bodies (%s)", (runtime) => {
  let dir: string;
  let relay: RelayProcess;
  beforeAll(async () => {
    dir = tmpDir();
    writeConfig(dir, ["server:", `  maxBodyBytes: ${limit}`, "spool:", "  inlineMaxBytes: 4096"].join("\n"));
    relay = await startRelay({ cwd: dir, runtime });
  });
  afterAll(async () => {
    expect(await relay.stop()).toBe(0);
    const fsck = runCli(["fsck"], dir);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
  });

  it.each(cases)("$name → the JSON 413, promptly, three times over", async (c) => {
    for (let round = 0; round < 3; round++) {
      const head = [
        `POST ${c.path ?? "/api/email/send"} HTTP/1.1`,
        "Host: relay",
        `Content-Type: ${c.contentType}`,
        c.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${c.declared ?? c.body.length}`,
        ...(c.extraHeaders ?? []),
        "",
        "",
      ].join("\r\n");
      const started = Date.now();
      const answer = await rawRequest(relay.url, head, c.chunked ? chunkedFraming(c.body) : c.body, 10_000);
      const ms = Date.now() - started;
      expect(answer.status, `${answer.headers}\n${answer.body}`).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 413, message: expect.stringContaining("exceeds") });
      expect(answer.headers).toMatch(/\r\nx-request-id: \S+/i);
      expect(ms).toBeLessThan(6_000);
    }
    const blobs = path.join(dir, "data/blobs");
    await waitFor(() => fs.readdirSync(blobs).length === 0, 5_000, "no temp file left in blobs/");
    const pid = relay.child.pid!;
    const open = fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [fs.readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
    expect(open.filter((target) => target.includes("/blobs/"))).toEqual([]);
    expect(relay.output()).not.toMatch(/FileHandle|garbage collection/);
  });

  it("an answer given before the body is read reaches a client that is still sending it", async () => {
    const cases = [
      { type: "text/plain", status: 415 },
      { type: "multipart/form-data", status: 400 },
      { type: "multipart/form-data; boundary=zz", status: 400 },
    ];
    for (let round = 0; round < 3; round++)
      for (const c of cases)
        for (const chunked of [false, true]) {
          const answer = await streamingPost(relay.url, c.type, limit - 100_000, chunked);
          expect(answer.status, `${round} ${c.type} ${chunked}: ${answer.body}`).toBe(c.status);
          expect(JSON.parse(answer.body).code).toBe(c.status);
        }
  });
});
