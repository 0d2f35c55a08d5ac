// Reliability 4 — EIO from fdatasync under concurrent load, by fault injection in the
// segment writer (startServer's overrides.io wrapping nodeSegmentIo; in-process on Node).
// Every 3rd fdatasync of a batch holding accepted records fails (delivery's own batches are
// left alone: how they mix with intake's depends on the runtime's speed). Waves of 50 concurrent sends: each answer is 200 or 503;
// the writer truncates, abandons the fd and rotates to a new segment, and the relay keeps
// serving. After a restart (real io): every 200's mail is in the spool with its subject,
// no 503's subject is, and every line decodes.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { nodeSegmentIo, type SegmentIo } from "../../src/spool/segment.js";
import { get, post } from "../helpers/http.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { figure, scanSpool, sized } from "../helpers/reliability.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const every = 3;
const concurrent = 50;
const waves = sized(4, 40);

let relay: InProcessRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

function failingEveryNth(n: number): SegmentIo & { calls: number; failed: number; intake: boolean } {
  const io = {
    calls: 0,
    failed: 0,
    /** Whether the batch being committed holds an accepted record (a request waits on it). */
    intake: false,
    write: (fd: number, data: Buffer, position: number) => {
      io.intake = data.includes('"type":"accepted"');
      return nodeSegmentIo.write(fd, data, position);
    },
    async fdatasync(fd: number) {
      if (!io.intake) return nodeSegmentIo.fdatasync(fd);
      io.calls += 1;
      if (io.calls % n === 0) {
        io.failed += 1;
        throw Object.assign(new Error("EIO: i/o error, fdatasync (injected)"), {
          code: "EIO",
          syscall: "fdatasync",
          errno: -5,
        });
      }
      return nodeSegmentIo.fdatasync(fd);
    },
  };
  return io;
}

it(
  `fdatasync EIO: ${waves} waves of ${concurrent} concurrent sends, every ${every}rd intake fdatasync fails`,
  async () => {
    const dir = tmpDir();
    const yaml = "delivery:\n  workers: 2\n";
    const io = failingEveryNth(every);
    relay = await startInProcess(yaml, { io }, dir);
    const url = relay.url;
    const answers: { title: string; status: number; id?: string }[] = [];
    for (let wave = 0; wave < waves; wave += 1) {
      await Promise.all(
        Array.from({ length: concurrent }, async (_, i) => {
          const title = `eio-${wave}-${i}`;
          const answer = await post(
            url,
            new URLSearchParams({ title, content: "<p>x</p>", receiver: "a@example.com" }).toString(),
            { "content-type": "application/x-www-form-urlencoded" },
          );
          answers.push({
            title,
            status: answer.status,
            id: answer.status === 200 ? (answer.body.data.id as string) : undefined,
          });
        }),
      );
    }
    // still serving: one more send and /health (the next fdatasync may be a failing one: retry once)
    let last = await post(
      url,
      new URLSearchParams({ title: "after", content: "<p>x</p>", receiver: "a@example.com" }).toString(),
      { "content-type": "application/x-www-form-urlencoded" },
    );
    if (last.status === 503)
      last = await post(
        url,
        new URLSearchParams({ title: "after-2", content: "<p>x</p>", receiver: "a@example.com" }).toString(),
        { "content-type": "application/x-www-form-urlencoded" },
      );
    const health = await get(url, "/health");
    const segmentsWritten = fs.readdirSync(path.join(dir, "data/spool")).filter((f) => f.endsWith(".jsonl")).length;
    await relay.stop();

    // restart on the real io: the spool is the truth
    relay = await startInProcess(yaml, {}, dir);
    const scan = scanSpool(path.join(dir, "data"));
    const subjects = new Set([...scan.accepted.values()].map((r) => (r.type === "accepted" ? r.mail.subject : "")));
    const acknowledged = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    const other = answers.filter((a) => a.status !== 200 && a.status !== 503);
    const lost = acknowledged.filter(
      (a) =>
        !scan.accepted.has(a.id!) ||
        (scan.accepted.get(a.id!) as { mail: { subject: string } }).mail.subject !== a.title ||
        !relay!.spool.index.get(a.id!),
    );
    const ghosts = refused.filter((a) => subjects.has(a.title));
    figure(
      `fdatasync EIO: ${answers.length} concurrent sends (${waves} × ${concurrent}), ${io.failed} of ${io.calls} fdatasyncs failed, ${acknowledged.length} acknowledged, ` +
        `${refused.length} refused (503), ${other.length} other, ${lost.length} acknowledged missing after restart, ${ghosts.length} refused found in the spool, ` +
        `${scan.torn.length + scan.tails.length} torn records, ${segmentsWritten} segments, still serving: send ${last.status}, /health ${health.status}`,
    );
    expect(io.failed).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(other).toEqual([]);
    expect(lost).toEqual([]);
    expect(ghosts).toEqual([]);
    expect(scan.torn).toEqual([]);
    expect(scan.tails).toEqual([]);
    // each failure abandons its segment (the last one may have had no append after it yet)
    expect(segmentsWritten).toBeGreaterThanOrEqual(io.failed);
    expect(last.status).toBe(200);
    expect(health.status).toBe(200);
  },
  sized(60_000, 300_000),
);
