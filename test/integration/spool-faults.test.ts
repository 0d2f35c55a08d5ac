// The spool's failure answers over a real socket: the free-space reserve (507), and
// injected write/fsync faults in the segment writer (507/503) after which the relay
// rotates to a new segment and keeps serving. Runs the server in-process on Node.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { nodeSegmentIo, type SegmentIo } from "../../src/spool/segment.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { get, post } from "../helpers/http.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const form = (title: string) =>
  new URLSearchParams({ title, content: "<p>c</p>", receiver: "a@example.com" }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

function start(env: Record<string, string>, io?: SegmentIo) {
  const dir = tmpDir();
  const loaded = loadConfig({ cwd: dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0", ...env } });
  return startServer(loaded, createLogger("silent"), { io }).then((s) => ((server = s), { server: s, dir }));
}

function errnoError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected`);
  error.code = code;
  return error;
}

function faultyIo(): SegmentIo & { next: "short" | "ENOSPC" | "EIO" | null } {
  const io = {
    next: null as "short" | "ENOSPC" | "EIO" | null,
    write(fd: number, data: Buffer, position: number) {
      if (io.next === "short") {
        io.next = null;
        return nodeSegmentIo.write(fd, data.subarray(0, Math.floor(data.length / 2)), position);
      }
      if (io.next === "ENOSPC") {
        io.next = null;
        throw errnoError("ENOSPC");
      }
      return nodeSegmentIo.write(fd, data, position);
    },
    async fdatasync(fd: number) {
      if (io.next === "EIO") {
        io.next = null;
        throw errnoError("EIO");
      }
      return nodeSegmentIo.fdatasync(fd);
    },
  };
  return io;
}

function segmentFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, "data/spool")).sort();
}

describe("spool faults", () => {
  it("answers 507 and /health 503 below the free-space reserve", async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "app.yaml"), "spool:\n  minFreeBytes: 1000000000000000\n");
    const loaded = loadConfig({ cwd: dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } });
    server = await startServer(loaded, createLogger("silent"));
    const answer = await post(server.url, form("reserve"), formHeaders);
    expect(answer.status).toBe(507);
    expect(answer.body.code).toBe(507);
    expect((await get(server.url, "/health")).status).toBe(503);
    expect(fs.readFileSync(path.join(dir, "data/spool/000001.jsonl"), { flag: "a+" }).length).toBe(0);
  });

  it.each([
    ["short write", "short", 507],
    ["ENOSPC", "ENOSPC", 507],
    ["EIO from fdatasync", "EIO", 503],
  ] as const)("%s: no false 200, nothing half-written, rotates and keeps serving", async (_name, fault, status) => {
    const io = faultyIo();
    const { server: s, dir } = await start({}, io);
    const first = await post(s.url, form("before"), formHeaders);
    expect(first.status).toBe(200);
    const segment = path.join(dir, "data/spool/000001.jsonl");
    await waitFor(() => s.spool.index.get(first.body.data.id)?.state === "sent", 10_000, "first mail delivered");
    const settledSize = fs.statSync(segment).size;
    io.next = fault;
    const failed = await post(s.url, form("during"), formHeaders);
    expect(failed.status).toBe(status);
    expect(failed.body.code).toBe(status);
    expect(fs.statSync(segment).size).toBe(settledSize);
    expect(fs.readFileSync(segment, "utf8").endsWith("\n")).toBe(true);
    const after = await post(s.url, form("after"), formHeaders);
    expect(after.status).toBe(200);
    expect(segmentFiles(dir)).toContain("000002.jsonl");
    expect(fs.readFileSync(path.join(dir, "data/spool/000002.jsonl"), "utf8")).toContain(
      `"id":"${after.body.data.id}"`,
    );
    expect(fs.readFileSync(segment, "utf8")).not.toContain('"subject":"during"');
  });
});

describe("shutdown", () => {
  it("answers 503 to sends once shutdown began, and writes nothing", async () => {
    const { server: s, dir } = await start({});
    s.gate.accepting = false;
    const answer = await post(s.url, form("late"), formHeaders);
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe(503);
    expect(s.spool.index.size).toBe(0);
    expect(
      fs
        .readdirSync(path.join(dir, "data/spool"))
        .map((f) => fs.statSync(path.join(dir, "data/spool", f)).size)
        .reduce((a, b) => a + b, 0),
    ).toBe(0);
  });
});
