// Reliability 6 — bad input over a real socket against the built binary: malformed and
// boundary-less multipart, NUL, CR/LF and path separators in file names, 10,000 tiny
// parts, a 100 KiB header, CR/LF in every field that ends up in a mail header, JSON with
// wrong types. Each must get a 4xx (naming the field where there is one), write nothing
// to the spool (no segment bytes, no blob, no temp file), and leave the relay healthy.
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rawRequest } from "../helpers/raw-http.js";
import { figure, filesIn, scanSpool } from "../helpers/reliability.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

let relay: RelayProcess;
let dir: string;
beforeAll(async () => {
  dir = tmpDir();
  // inlineMaxBytes 0: every attachment byte goes through a blob temp file, so a refused
  // request that leaves one behind is caught
  writeConfig(
    dir,
    ["server:", "  maxBodyBytes: 4194304", "spool:", "  inlineMaxBytes: 0", "delivery:", "  workers: 1"].join("\n"),
  );
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  await relay?.stop();
});

interface Case {
  name: string;
  contentType?: string;
  body: Buffer | string;
  extraHeaders?: string[];
  /** Wait this long for an early answer before sending the body. */
  holdBodyMs?: number;
  /** Accepted statuses. */
  status: number[];
  /** A field the 4xx must name in data.errors. */
  field?: string;
}

const ok = { title: "hello", content: "<p>hi</p>", receiver: "a@example.com" };
const json = (value: unknown) => ({ contentType: "application/json", body: JSON.stringify(value) });
const boundary = "----reliability7MA4YWxkTrZu0gW";

/** A multipart body from raw parts; `filename` bytes are written as given (NUL, CR/LF included). */
function multipart(
  parts: { name: string; value?: string; filename?: string; type?: string; data?: string }[],
  options: { close?: boolean } = {},
): { contentType: string; body: Buffer } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename !== undefined ? `Content-Type: ${p.type ?? "text/plain"}\r\n` : ""}\r\n`,
        "latin1",
      ),
    );
    chunks.push(Buffer.from(p.data ?? p.value ?? "", "utf8"));
    chunks.push(Buffer.from("\r\n"));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}
const okParts = Object.entries(ok).map(([name, value]) => ({ name, value }));
const file = (filename: string) => multipart([...okParts, { name: "attachment[]", filename, data: "file body" }]);

/** A file part whose name is given only as RFC 5987 `filename*=UTF-8''<percent-encoded>`. */
function fileStar(encoded: string): { contentType: string; body: Buffer } {
  const m = multipart(okParts);
  const part = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="attachment[]"; filename*=UTF-8''${encoded}\r\nContent-Type: text/plain\r\n\r\nfile body\r\n`,
  );
  return {
    contentType: m.contentType,
    body: Buffer.concat([
      m.body.subarray(0, m.body.length - `--${boundary}--\r\n`.length),
      part,
      Buffer.from(`--${boundary}--\r\n`),
    ]),
  };
}

const headerFields = ["title", "sender_name", "receiver", "receiver_name", "cc", "bcc", "reply_to"] as const;
const injected = (field: string) =>
  field === "title" || field.endsWith("_name")
    ? "Hello\r\nBcc: victim@example.net"
    : "a@example.com\r\nBcc: victim@example.net";

const cases: Case[] = [
  {
    name: "multipart: not multipart at all",
    ...{ contentType: `multipart/form-data; boundary=${boundary}`, body: "this is not a multipart body" },
    status: [400],
  },
  {
    name: "multipart: truncated mid-part",
    ...(() => {
      const m = multipart([...okParts, { name: "attachment[]", filename: "a.txt", data: "partial" }], { close: false });
      return { contentType: m.contentType, body: m.body.subarray(0, m.body.length - 5) };
    })(),
    status: [400],
    field: "body",
  },
  {
    name: "multipart: missing boundary",
    contentType: "multipart/form-data",
    body: multipart(okParts).body,
    status: [400],
    field: "Content-Type",
  },
  { name: "multipart: NUL in filename", ...file("a\0b.txt"), status: [400], field: "attachment[0].filename" },
  { name: "multipart: ../ in filename", ...file("../../etc/passwd"), status: [400], field: "attachment[0].filename" },
  { name: "multipart: ..\\ in filename", ...file("..\\..\\boot.ini"), status: [400], field: "attachment[0].filename" },
  { name: "multipart: filename '..'", ...file(".."), status: [400], field: "attachment[0].filename" },
  // a raw CR/LF cannot live inside a part header (it ends the header line); RFC 5987 filename* can carry one
  { name: "multipart: CR/LF in filename* (RFC 5987)", ...fileStar("a.txt%0D%0AX-Evil:%201"), status: [400] },
  {
    name: "multipart: NUL in filename* (RFC 5987)",
    ...fileStar("a%00b.txt"),
    status: [400],
    field: "attachment[0].filename",
  },
  {
    name: "multipart: ../ in filename* (RFC 5987)",
    ...fileStar("..%2F..%2Fetc%2Fpasswd"),
    status: [400],
    field: "attachment[0].filename",
  },
  {
    name: "multipart: 10,000 tiny fields",
    ...multipart([...okParts, ...Array.from({ length: 10_000 }, (_, i) => ({ name: `f${i}`, value: "x" }))]),
    status: [400, 413],
  },
  {
    name: "multipart: 10,000 tiny files",
    ...multipart([
      ...okParts,
      ...Array.from({ length: 10_000 }, (_, i) => ({ name: "attachment[]", filename: `f${i}.txt`, data: "x" })),
    ]),
    status: [400, 413],
    field: "attachment[]",
  },
  // a field the API does not know is refused by name (it was silently dropped before issue 10)
  {
    name: "form: 10,000 unknown fields after valid ones",
    contentType: "application/x-www-form-urlencoded",
    body: `${new URLSearchParams(ok).toString()}&${Array.from({ length: 10_000 }, (_, i) => `f${i}=x`).join("&")}`,
    status: [400],
    field: "f0",
  },
  ...headerFields.map((field): Case => ({
    name: `JSON: CR/LF in ${field}`,
    ...json({ ...ok, [field]: injected(field) }),
    status: [400],
    field,
  })),
  ...headerFields.map((field): Case => ({
    name: `form: CR/LF in ${field}`,
    contentType: "application/x-www-form-urlencoded",
    body: new URLSearchParams({ ...ok, [field]: injected(field) }).toString(),
    status: [400],
    field,
  })),
  {
    name: "multipart: CR/LF in title field",
    ...multipart(okParts.map((p) => (p.name === "title" ? { ...p, value: "Hi\r\nBcc: victim@example.net" } : p))),
    status: [400],
    field: "title",
  },
  {
    name: "JSON: CR/LF in attachment filename",
    ...json({ ...ok, attachment: [{ filename: "a.txt\r\nX-Evil: 1", content: "aGk=" }] }),
    status: [400],
    field: "attachment[0].filename",
  },
  {
    name: "JSON: CR/LF in attachment contentType",
    ...json({ ...ok, attachment: [{ filename: "a.txt", content: "aGk=", contentType: "text/plain\r\nX-Evil: 1" }] }),
    status: [400],
    field: "attachment[0].contentType",
  },
  {
    name: "JSON: NUL in attachment filename",
    ...json({ ...ok, attachment: [{ filename: "a\u0000.txt", content: "aGk=" }] }),
    status: [400],
    field: "attachment[0].filename",
  },
  {
    name: "JSON: ../ in attachment filename",
    ...json({ ...ok, attachment: [{ filename: "../x.txt", content: "aGk=" }] }),
    status: [400],
    field: "attachment[0].filename",
  },
  { name: "JSON: title is a number", ...json({ ...ok, title: 123 }), status: [400], field: "title" },
  {
    name: "JSON: receiver is an array",
    ...json({ ...ok, receiver: ["a@example.com"] }),
    status: [400],
    field: "receiver",
  },
  { name: "JSON: content is an object", ...json({ ...ok, content: { html: "x" } }), status: [400], field: "content" },
  { name: "JSON: content is null", ...json({ ...ok, content: null }), status: [400], field: "content" },
  { name: "JSON: cc is a boolean", ...json({ ...ok, cc: true }), status: [400], field: "cc" },
  { name: "JSON: attachment is a string", ...json({ ...ok, attachment: "aGk=" }), status: [400], field: "attachment" },
  {
    name: "JSON: attachment filename is a number",
    ...json({ ...ok, attachment: [{ filename: 5, content: "aGk=" }] }),
    status: [400],
    field: "attachment[0].filename",
  },
  {
    name: "JSON: attachment content is a number",
    ...json({ ...ok, attachment: [{ filename: "a.txt", content: 12 }] }),
    status: [400],
    field: "attachment[0].content",
  },
  {
    name: "JSON: attachment content not base64",
    ...json({ ...ok, attachment: [{ filename: "a.txt", content: "not base64 !!" }] }),
    status: [400],
    field: "attachment[0].content",
  },
  { name: "JSON: body is an array", ...json([ok]), status: [400], field: "body" },
  { name: "JSON: body is null", ...json(null), status: [400], field: "body" },
  { name: "JSON: malformed", contentType: "application/json", body: '{"title": "x",', status: [400], field: "body" },
  { name: "JSON: missing receiver", ...json({ title: "x", content: "y" }), status: [400], field: "receiver" },
  { name: "JSON: invalid address", ...json({ ...ok, receiver: "not an address" }), status: [400], field: "receiver" },
  { name: "unsupported content type", contentType: "text/plain", body: "hello", status: [415], field: "Content-Type" },
  // answered on the declared Content-Length, before the body is sent (a client that keeps
  // writing after the early answer may see a reset instead, a race of raw sockets)
  {
    name: "body over maxBodyBytes (declared length)",
    ...json({ ...ok, content: "x".repeat(4_300_000) }),
    holdBodyMs: 3_000,
    status: [413],
  },
  {
    name: "100 KiB header value",
    ...json(ok),
    extraHeaders: [`X-Filler: ${"a".repeat(100 * 1024)}`],
    status: [431, 400],
  },
  {
    name: "10,000 headers",
    ...json(ok),
    extraHeaders: Array.from({ length: 10_000 }, (_, i) => `X-H${i}: 1`),
    status: [431, 400],
  },
];

it(`bad input: ${cases.length} malformed requests get a 4xx, write nothing, and leave the relay healthy`, async () => {
  const dataDir = path.join(dir, "data");
  const blobsDir = path.join(dir, "data/blobs");
  const problems: string[] = [];
  const seen = new Map<number, number>();
  let named = 0;
  let accepted200 = 0;
  for (const c of cases) {
    const acceptedBefore = scanSpool(dataDir).accepted.size;
    const blobsBefore = filesIn(blobsDir).join(",");
    const body = typeof c.body === "string" ? Buffer.from(c.body, "utf8") : c.body;
    const head = [
      "POST /api/email/send HTTP/1.1",
      `Host: ${new URL(relay.url).host}`,
      ...(c.contentType ? [`Content-Type: ${c.contentType}`] : []),
      `Content-Length: ${body.length}`,
      ...(c.extraHeaders ?? []),
      "Connection: close",
      "",
      "",
    ].join("\r\n");
    const answer = await rawRequest(relay.url, head, body, 10_000, c.holdBodyMs ?? 0);
    seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
    if (!c.status.includes(answer.status))
      problems.push(
        `${c.name}: HTTP ${answer.status}${answer.closedWithoutAnswer ? " (connection closed without an answer)" : ""}, expected ${c.status.join("/")}: ${answer.body.slice(0, 200)}`,
      );
    if (c.field) {
      let errors: { field: string }[] = [];
      try {
        errors = JSON.parse(answer.body).data?.errors ?? [];
      } catch {
        // not JSON: reported through the status check or here
      }
      if (errors.some((e) => e.field === c.field)) named += 1;
      else problems.push(`${c.name}: 4xx does not name ${c.field}: ${answer.body.slice(0, 200)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    const accepted = scanSpool(dataDir).accepted.size - acceptedBefore;
    const blobs = filesIn(blobsDir).join(",");
    if (answer.status !== 200 && (accepted !== 0 || blobs !== blobsBefore))
      problems.push(
        `${c.name}: refused but wrote to the spool (${accepted} accepted records; blobs before [${blobsBefore}], after [${blobs}])`,
      );
    if (answer.status === 200) accepted200 += 1;
    const health = await rawRequest(relay.url, `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    if (health.status !== 200) problems.push(`${c.name}: /health answered ${health.status} afterwards`);
  }
  // and a good request still works
  const good = await rawRequest(
    relay.url,
    `POST /api/email/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${JSON.stringify(ok).length}\r\nConnection: close\r\n\r\n`,
    JSON.stringify(ok),
  );
  const statuses = [...seen.entries()]
    .sort()
    .map(([s, n]) => `${n} × ${s}`)
    .join(", ");
  figure(
    `bad input: ${cases.length} requests (${statuses}), ${named}/${cases.filter((c) => c.field).length} name their field, ${problems.length} problems, ${accepted200} accepted, nothing written by the refused ones, /health 200 after each; a good send then gets ${good.status}`,
  );
  expect(problems).toEqual([]);
  expect(good.status).toBe(200);
}, 120_000);
