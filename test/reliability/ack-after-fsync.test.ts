// Reliability 2 — "a 200 means the mail is on disk", checked from the outside: the built
// relay serves concurrent sends under `strace -f -tt`, and the trace is audited (see
// test/helpers/strace.ts): every HTTP 200 carrying a mail id was written to its client
// socket only after the id's accepted record had been written to a spool segment fd and
// an fsync/fdatasync on that same open file had completed. Runs against the Bun single
// executable and against `node dist/main.js serve`. Skips when strace is not installed
// (CI: `apt-get install -y strace`).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { post, sendForm } from "../helpers/http.js";
import { boundedLoad, figure, sized } from "../helpers/reliability.js";
import { auditTrace, parseTrace, startTracedRelay, straceAvailable } from "../helpers/strace.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const hasStrace = straceAvailable();
if (!hasStrace) console.warn("ack-after-fsync audit skipped: strace is not installed (apt-get install -y strace)");

const sends = sized(96, 1000);
const senders = 8;

function body(n: number): { body: BodyInit; headers: Record<string, string> } {
  const fields = { title: `audit ${n}`, content: `<p>${n}</p>`, receiver: "a@example.com" };
  if (n % 5 === 0)
    return {
      body: sendForm(fields, [{ filename: "big.bin", type: "application/octet-stream", data: randomBytes(70_000) }]),
      headers: {},
    };
  if (n % 2 === 0)
    return {
      body: JSON.stringify({
        ...fields,
        attachment: [{ filename: "a.txt", content: Buffer.from(`note ${n}`).toString("base64") }],
      }),
      headers: { "content-type": "application/json" },
    };
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  };
}

describe.skipIf(!hasStrace)("ack after fsync (strace audit)", () => {
  it("the audit catches a response written before its fdatasync completed (synthetic trace)", () => {
    const id1 = "01M846R7VQVT3DZ73WC8HC0JJN";
    const id2 = "01M846R7VXW1M49S2BV44TEVB6";
    const rec = (id: string) =>
      `{\\"v\\":1,\\"type\\":\\"accepted\\",\\"id\\":\\"${id}\\",\\"crc\\":\\"00000000\\"}\\n`;
    const answer = (id: string) =>
      `HTTP/1.1 200 OK\\r\\n\\r\\n{\\"code\\":200,\\"message\\":\\"success\\",\\"data\\":{\\"id\\":\\"${id}\\"}}`;
    const len = (s: string) => s.replace(/\\./g, "x").length;
    const trace = [
      `100 12:00:00.000001 accept4(5, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = 6`,
      `100 12:00:00.000002 accept4(5, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = 8`,
      `100 12:00:00.000003 openat(AT_FDCWD, "/d/data/spool/000001.jsonl", O_RDWR|O_CREAT, 0666) = 7`,
      `100 12:00:00.000010 pwrite64(7, "${rec(id1)}", ${len(rec(id1))}, 0) = ${len(rec(id1))}`,
      `101 12:00:00.000020 fdatasync(7 <unfinished ...>`,
      // id1 answered while its fdatasync is still running: a violation
      `100 12:00:00.000030 sendto(6, "${answer(id1)}", ${len(answer(id1))}, MSG_DONTWAIT, NULL, 0) = ${len(answer(id1))}`,
      `101 12:00:00.000040 <... fdatasync resumed>) = 0`,
      `100 12:00:00.000050 pwrite64(7, "${rec(id2)}", ${len(rec(id2))}, 50 <unfinished ...>`,
      `100 12:00:00.000051 <... pwrite64 resumed>) = ${len(rec(id2))}`,
      `101 12:00:00.000060 fdatasync(7)      = 0`,
      `100 12:00:00.000070 writev(8, [{iov_base="HTTP/1.1 200 OK\\r\\n\\r\\n", iov_len=19}, {iov_base="{\\"code\\":200,\\"message\\":\\"success\\",\\"data\\":{\\"id\\":\\"${id2}\\"}}", iov_len=75}], 2) = 94`,
    ].join("\n");
    const audit = auditTrace(parseTrace(trace));
    expect(audit.acknowledgements.map((a) => a.id)).toEqual([id1, id2]);
    expect(audit.violations.map((v) => v.id)).toEqual([id1]);
    expect(audit.violations[0]!.reason).toMatch(/before its fsync completed/);
  });

  it.each(["binary", "bundle"] as const)(
    "%s: every 200 leaves after the fdatasync covering its record",
    async (runtime) => {
      const dir = tmpDir();
      const traceFile = path.join(dir, "trace.txt");
      const relay = await startTracedRelay({ cwd: dir, traceFile, runtime });
      const ids: string[] = [];
      const statuses = new Map<number, number>();
      try {
        await boundedLoad({ workers: senders, count: sends, timeMs: sized(60_000, 300_000) }, async (n) => {
          const request = body(n);
          const answer = await post(relay.url, request.body, request.headers);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status === 200) ids.push(answer.body.data.id as string);
        });
      } finally {
        await relay.stop();
      }
      const audit = auditTrace(parseTrace(fs.readFileSync(traceFile, "latin1")));
      const margins = [...audit.marginsUs].sort((a, b) => a - b);
      const median = margins[Math.floor(margins.length / 2)] ?? 0;
      figure(
        `ack after fsync (${runtime === "binary" ? "bun executable" : "bun dist/main.js"}): ${audit.acknowledgements.length} acknowledgements audited, ` +
          `${audit.violations.length} before their fsync (${ids.length} 200s seen by clients, ${audit.segmentWrites} segment writes, ${audit.syncs} fsyncs; ` +
          `fsync-to-response margin min ${margins[0] ?? 0} µs, median ${median} µs)`,
      );
      expect(Object.fromEntries(statuses)).toEqual({ 200: sends });
      // the audit saw exactly the acknowledgements the clients got (nothing slipped past the parser)
      expect(audit.acknowledgements.map((a) => a.id).sort()).toEqual([...ids].sort());
      expect(audit.violations).toEqual([]);
    },
    sized(120_000, 600_000),
  );
});
