// Reliability 7 — soak: the built binary under a steady send rate with a real SMTP
// upstream; RSS (/proc/<pid>/status VmRSS) and open file handles (/proc/<pid>/fd) are
// sampled at a fixed interval after a warm-up and must stay flat: the mean RSS of the
// last third of the samples within +20 % of the first third's, the median open fds of the
// last third within +5 of the first third's. Full run: 10 minutes, a sample every 10 s.
// CI (`npm test`): a 20-second mini-soak, a sample every 2 s.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { post, sendForm } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { figure, full, messageIdOf, procStats, sleep } from "../helpers/reliability.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const ratePerSecond = 20;
const maxInFlight = 50;
const rssTolerance = 0.2;
const fdTolerance = 5;

function body(n: number): { body: BodyInit; headers: Record<string, string> } {
  const fields = { title: `soak ${n}`, content: `<p>steady ${n}</p>`, receiver: "a@example.com,b@example.com" };
  if (n % 10 === 0)
    return {
      body: sendForm(fields, [{ filename: "big.bin", type: "application/octet-stream", data: randomBytes(70_000) }]),
      headers: {},
    };
  if (n % 3 === 0)
    return {
      body: JSON.stringify({
        ...fields,
        attachment: [{ filename: "a.txt", content: randomBytes(3_000).toString("base64") }],
      }),
      headers: { "content-type": "application/json" },
    };
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

interface SoakSize {
  durationMs: number;
  warmupMs: number;
  sampleEveryMs: number;
}
const tenMinutes: SoakSize = { durationMs: 600_000, warmupMs: 30_000, sampleEveryMs: 10_000 };
const mini: SoakSize = { durationMs: 20_000, warmupMs: 5_000, sampleEveryMs: 2_000 };

it.skipIf(!full)(
  `soak: 10 minutes at ${ratePerSecond} sends/s, RSS and open fds stay flat`,
  () => soak(tenMinutes),
  tenMinutes.durationMs + 180_000,
);
it.skipIf(full)(
  `mini-soak: 20 seconds at ${ratePerSecond} sends/s, RSS and open fds stay flat`,
  () => soak(mini),
  mini.durationMs + 120_000,
);

async function soak({ durationMs, warmupMs, sampleEveryMs }: SoakSize): Promise<void> {
  const dir = tmpDir();
  const sink = await startSmtpSink();
  writeConfig(
    dir,
    deliveryYaml(sink.port, ["  workers: 5", "  retry: { attempts: 5, baseSeconds: 0.1, maxSeconds: 1 }"]),
  );
  const relay = await startRelay({ cwd: dir });
  const pid = relay.child.pid!;
  const statuses = new Map<number, number>();
  const acknowledged: string[] = [];
  const latencies: number[] = [];
  const samples: { at: number; rssKiB: number; fds: number }[] = [];
  let inFlight = 0;
  let skipped = 0;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  try {
    const started = Date.now();
    let nextSample = started + warmupMs;
    const interval = 1000 / ratePerSecond;
    // a steady open-loop rate, bounded by time, and by in-flight requests so a stall cannot pile up
    for (let tick = 0; Date.now() - started < durationMs; tick += 1) {
      const due = started + tick * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      if (Date.now() >= nextSample) {
        samples.push({ at: Date.now() - started, ...procStats(pid) });
        nextSample += sampleEveryMs;
      }
      if (inFlight >= maxInFlight) {
        skipped += 1;
        continue;
      }
      inFlight += 1;
      sent += 1;
      const t0 = performance.now();
      const request = body(sent);
      const p = post(relay.url, request.body, request.headers)
        .then((answer) => {
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status === 200) acknowledged.push(answer.body.data.id as string);
          latencies.push(performance.now() - t0);
        })
        .catch(() => {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        })
        .finally(() => {
          inFlight -= 1;
          pending.delete(p);
        });
      pending.add(p);
    }
    samples.push({ at: Date.now() - started, ...procStats(pid) });
    await Promise.all(pending);
    const wanted = new Set(acknowledged);
    let arrived = 0;
    await waitFor(
      () => {
        const ids = new Set(sink.messages.map((m) => messageIdOf(m.raw)));
        arrived = [...wanted].filter((id) => ids.has(id)).length;
        return arrived === wanted.size;
      },
      30_000,
      "every acknowledged mail at the upstream",
    ).catch(() => undefined);

    const third = Math.max(1, Math.floor(samples.length / 3));
    const first = samples.slice(0, third);
    const last = samples.slice(-third);
    const rssFirst = mean(first.map((s) => s.rssKiB));
    const rssLast = mean(last.map((s) => s.rssKiB));
    // fds by median: in-flight HTTP and SMTP sockets come and go between samples; a leak raises the median
    const fdFirst = median(first.map((s) => s.fds));
    const fdLast = median(last.map((s) => s.fds));
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);
    figure(
      `${full ? "soak" : "mini-soak"}: ${Math.round(durationMs / 1000)} s, ${sent} sends (${[...statuses.entries()].map(([s, n]) => `${n} × ${s}`).join(", ")}; ${skipped} ticks skipped at ${maxInFlight} in flight), ` +
        `${arrived}/${wanted.size} delivered, latency p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms; ${samples.length} samples every ${sampleEveryMs / 1000} s after ${warmupMs / 1000} s warm-up: ` +
        `RSS ${Math.round(rssFirst / 1024)} → ${Math.round(rssLast / 1024)} MiB (${rssLast >= rssFirst ? "+" : ""}${Math.round(((rssLast - rssFirst) / rssFirst) * 1000) / 10} %, tolerance +${rssTolerance * 100} %), ` +
        `median fds ${fdFirst} → ${fdLast} (tolerance +${fdTolerance})`,
    );
    expect(statuses.get(200)).toBe(sent);
    expect(arrived).toBe(wanted.size);
    expect(samples.length).toBeGreaterThanOrEqual(6);
    expect(rssLast).toBeLessThanOrEqual(rssFirst * (1 + rssTolerance));
    expect(fdLast).toBeLessThanOrEqual(fdFirst + fdTolerance);
  } finally {
    expect(await relay.stop()).toBe(0);
    await sink.close();
  }
}
