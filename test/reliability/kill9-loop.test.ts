// Reliability 1 — kill -9 under concurrent HTTP load with a real SMTP upstream.
// The built binary is SIGKILLed at random moments (test/helpers/crash-harness.ts) while
// 8 senders post form, JSON (inline attachment) and multipart (blob attachment) mails.
// After a last restart: every acknowledged id is in the spool and arrives at the
// upstream (lost = 0), every spool line decodes, and downstream duplicates stay within
// kills × workers (only a kill between an upstream's 250 and the outcome append can
// duplicate). CI: 10 kills; full run: 50.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { expect, it } from "vitest";
import { crashLoop } from "../helpers/crash-harness.js";
import { get, sendForm } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { figure, full, messageIdOf, scanSpool, sized } from "../helpers/reliability.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const kills = Number(process.env.MAILSPOOL_RELIABILITY_KILLS ?? sized(10, 50));
const senders = 8;
const workers = 5;

function body(n: number): { body: BodyInit; headers: Record<string, string> } {
  const fields = { title: `kill9 ${n}`, content: `<p>mail ${n}</p>`, receiver: "a@example.com" };
  switch (n % 4) {
    case 0:
      return {
        body: JSON.stringify({
          ...fields,
          attachment: [{ filename: "small.bin", content: randomBytes(2_000).toString("base64") }],
        }),
        headers: { "content-type": "application/json" },
      };
    case 1:
      // over spool.inlineMaxBytes (64 KiB): streamed to a blob, fsync'd, renamed before the record
      return {
        body: sendForm(fields, [{ filename: "big.bin", type: "application/octet-stream", data: randomBytes(70_000) }]),
        headers: {},
      };
    default:
      return {
        body: new URLSearchParams({ ...fields, receiver: "a@example.com,b@example.com" }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      };
  }
}

it(
  `kill -9 loop: ${kills} kills under ${senders} concurrent senders, no acknowledged mail lost`,
  async () => {
    const dir = tmpDir();
    const sink = await startSmtpSink();
    writeConfig(
      dir,
      deliveryYaml(sink.port, [
        `  workers: ${workers}`,
        "  retry: { attempts: 20, baseSeconds: 0.05, maxSeconds: 0.5 }",
      ]),
    );
    try {
      const started = Date.now();
      const result = await crashLoop({ cwd: dir, kills, senders, makeBody: body, minMs: 100, maxMs: 600 });
      expect(result.acknowledged.length).toBeGreaterThan(kills);

      const relay = await startRelay({ cwd: dir });
      const wanted = new Set(result.acknowledged);
      let lostAtUpstream: string[] = [];
      try {
        // every acknowledged mail reaches the upstream (bounded wait)
        await waitFor(
          () => {
            const arrived = new Set(sink.messages.map((m) => messageIdOf(m.raw)));
            lostAtUpstream = [...wanted].filter((id) => !arrived.has(id));
            return lostAtUpstream.length === 0;
          },
          sized(60_000, 240_000),
          "every acknowledged mail at the upstream",
        ).catch(() => undefined);
        // and the status API agrees, spot-checked on a sample (every id on the full run)
        const sample = full ? [...wanted] : [...wanted].filter((_, i) => i % 10 === 0);
        for (const id of sample) {
          const answer = await get(relay.url, `/api/email/${id}`);
          expect(answer.status, `status of ${id}`).toBe(200);
        }
      } finally {
        expect(await relay.stop()).toBe(0);
      }

      const scan = scanSpool(path.join(dir, "data"));
      const lostInSpool = [...wanted].filter((id) => !scan.accepted.has(id));
      const perId = new Map<string, number>();
      for (const m of sink.messages) {
        const id = messageIdOf(m.raw);
        if (id) perId.set(id, (perId.get(id) ?? 0) + 1);
      }
      const duplicates = [...perId.values()].reduce((sum, n) => sum + n - 1, 0);
      const unknown = [...perId.keys()].filter((id) => !scan.accepted.has(id));
      figure(
        `kill -9 loop: ${result.kills} kills, ${result.attempted} sends, ${result.acknowledged.length} acknowledged, ` +
          `${lostInSpool.length} lost from spool, ${lostAtUpstream.length} lost at upstream, ${duplicates} duplicates (bound ${kills * workers}), ` +
          `${scan.torn.length + scan.tails.length} torn records, ${Math.round((Date.now() - started) / 1000)} s`,
      );
      expect(lostInSpool).toEqual([]);
      expect(lostAtUpstream).toEqual([]);
      expect(unknown, "delivered mails the spool never accepted").toEqual([]);
      expect(scan.torn).toEqual([]);
      expect(scan.tails).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(kills * workers);
    } finally {
      await sink.close();
    }
  },
  sized(240_000, 900_000),
);
