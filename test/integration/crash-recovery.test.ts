// kill -9 at random moments under concurrent sends: every id that got a 200 is in the
// spool after restart and ends delivered into the outbox.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { crashLoop } from "../helpers/crash-harness.js";
import { get } from "../helpers/http.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const kills = Number(process.env.MAILSPOOL_CRASH_KILLS ?? 10);

it(`loses no acknowledged mail across ${kills} kill -9 restarts`, async () => {
  const dir = tmpDir();
  const attachment = Buffer.alloc(80_000, 0x5a).toString("base64");
  const result = await crashLoop({
    cwd: dir,
    kills,
    senders: 8,
    makeBody: (n) =>
      n % 3 === 0
        ? {
            body: JSON.stringify({
              title: `big ${n}`,
              content: "<p>x</p>",
              receiver: "a@example.com",
              attachment: [{ filename: "b.bin", content: attachment }],
            }),
            headers: { "content-type": "application/json" },
          }
        : {
            body: new URLSearchParams({
              title: `crash ${n}`,
              content: "<p>x</p>",
              receiver: "a@example.com,b@example.com",
            }).toString(),
            headers: { "content-type": "application/x-www-form-urlencoded" },
          },
  });
  expect(result.acknowledged.length).toBeGreaterThan(kills);
  const relay = await startRelay({ cwd: dir });
  try {
    for (const id of result.acknowledged) {
      const state = await waitFor(
        async () => {
          const answer = await get(relay.url, `/api/email/${id}`);
          return answer.status === 200 && answer.body.data.state === "sent" ? answer.body.data.state : undefined;
        },
        20_000,
        `mail ${id} to be sent`,
      );
      expect(state).toBe("sent");
      expect(fs.existsSync(path.join(dir, "data/outbox", `${id}.eml`))).toBe(true);
    }
  } finally {
    expect(await relay.stop()).toBe(0);
  }
  console.log(
    `kill -9 harness: ${result.kills} kills, ${result.attempted} sends attempted, ${result.acknowledged.length} acknowledged, 0 lost`,
  );
}, 180_000);

it(`delivers every acknowledged mail to a live upstream across ${kills} kill -9 restarts, duplicates bounded`, async () => {
  const dir = tmpDir();
  const workers = 5;
  const sink = await startSmtpSink();
  writeConfig(
    dir,
    deliveryYaml(sink.port, [`  workers: ${workers}`, "  retry: { attempts: 10, baseSeconds: 0.05, maxSeconds: 0.5 }"]),
  );
  try {
    const result = await crashLoop({
      cwd: dir,
      kills,
      senders: 8,
      makeBody: (n) => ({
        body: new URLSearchParams({ title: `crash ${n}`, content: "<p>x</p>", receiver: "a@example.com" }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    });
    const relay = await startRelay({ cwd: dir });
    const idOf = (raw: Buffer) => /Message-ID: <([0-9A-Z]{26})@/.exec(raw.toString())?.[1];
    try {
      const wanted = new Set(result.acknowledged);
      await waitFor(
        () => {
          const arrived = new Set(sink.messages.map((m) => idOf(m.raw)));
          return [...wanted].every((id) => arrived.has(id));
        },
        30_000,
        "every acknowledged mail at the upstream",
      );
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    const perId = new Map<string, number>();
    for (const m of sink.messages) perId.set(idOf(m.raw)!, (perId.get(idOf(m.raw)!) ?? 0) + 1);
    const duplicates = [...perId.values()].reduce((sum, n) => sum + n - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(kills * workers);
    console.log(
      `kill -9 with upstream: ${kills} kills, ${result.acknowledged.length} acknowledged, all arrived, ${duplicates} duplicates (bound ${kills * workers})`,
    );
  } finally {
    await sink.close();
  }
}, 180_000);
