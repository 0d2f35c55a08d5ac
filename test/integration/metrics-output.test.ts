// /metrics on the real executable (Bun) and on the Node bundle: our metrics plus the
// runtime's default process metrics, scraped without error on both; the JSON totals for
// ?format=json or an Accept header preferring application/json, the text for everything
// else a scraper sends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const prometheusAccept =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);

describe.each(["binary", "bundle"] as const)("/metrics under %s", (runtime) => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await startRelay({ cwd: tmpDir(), runtime });
  });
  afterAll(async () => {
    expect(await relay.stop()).toBe(0);
  });

  it("includes the process metrics, with figures, and ours", async () => {
    // two scrapes: collectors that sample between scrapes (event loop, GC) must not fail the second either
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(`${relay.url}/metrics`, { headers: { accept: prometheusAccept } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
      const text = await response.text();
      expect(text).not.toContain("process metrics unavailable");
      expect(sample(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
      expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
      expect(sample(text, "process_open_fds")).toBeGreaterThan(2);
      expect(sample(text, "process_start_time_seconds")).toBeGreaterThan(Date.now() / 1000 - 600);
      expect(sample(text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
      expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
      expect(sample(text, "mailspool_queue_depth")).toBe(0);
      expect(text.match(/^# TYPE process_cpu_seconds_total /gm)).toHaveLength(1);
    }
  });

  it("gives the JSON totals for ?format=json and for Accept: application/json", async () => {
    const shape = {
      total_emails: 0,
      successful_emails: 0,
      failed_emails: 0,
      total_recipients: 0,
      avg_processing_time_ms: 0,
    };
    for (const [path, accept] of [
      ["/metrics?format=json", "*/*"],
      ["/metrics", "application/json"],
      ["/metrics", "text/plain;q=0.5, application/json"],
    ] as const) {
      const response = await fetch(`${relay.url}${path}`, { headers: { accept } });
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(shape);
    }
    const text = await fetch(`${relay.url}/metrics`, { headers: { accept: "*/*" } });
    expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(text.headers.get("vary")).toMatch(/accept/i);
  });
});
