import { describe, expect, it } from "vitest";
import { DailyCounter } from "./daily-counter.js";

const at = (iso: string) => Date.parse(iso);

describe("DailyCounter", () => {
  it("counts recipients per upstream per local day and resets at local midnight", () => {
    const counter = new DailyCounter("Asia/Shanghai");
    counter.add("primary", at("2026-11-23T15:00:00Z"), 3); // 23:00 in Shanghai
    expect(counter.count("primary", at("2026-11-23T15:59:00Z"))).toBe(3);
    expect(counter.count("backup", at("2026-11-23T15:59:00Z"))).toBe(0);
    expect(counter.count("primary", at("2026-11-23T16:00:00Z"))).toBe(0); // midnight in Shanghai
    counter.add("primary", at("2026-11-23T16:30:00Z"), 2);
    expect(counter.count("primary", at("2026-11-23T17:00:00Z"))).toBe(2);
  });

  it("ignores counts of an earlier day arriving late", () => {
    const counter = new DailyCounter("UTC");
    counter.add("p", at("2026-11-23T10:00:00Z"), 1);
    counter.add("p", at("2026-11-22T10:00:00Z"), 5);
    expect(counter.count("p", at("2026-11-23T11:00:00Z"))).toBe(1);
  });

  it("knows how long until local midnight", () => {
    expect(new DailyCounter("UTC").msUntilMidnight(at("2026-11-23T23:00:00Z"))).toBe(3_600_000);
    expect(new DailyCounter("Asia/Shanghai").msUntilMidnight(at("2026-11-23T15:30:00Z"))).toBe(1_800_000);
  });

  it("rebuilds from outcome records, counting only sent recipients", () => {
    const counter = new DailyCounter("UTC");
    counter.observe({
      v: 1,
      type: "outcome",
      id: "m",
      ts: "2026-11-23T10:00:00.000Z",
      attempt: 1,
      transaction: { upstream: "p", envelope: { from: "a@x.io", to: ["b@x.io", "c@x.io"] }, code: 250, response: "ok" },
      recipients: [
        { address: "b@x.io", state: "sent" },
        { address: "c@x.io", state: "failed-permanent" },
      ],
    });
    expect(counter.count("p", at("2026-11-23T12:00:00Z"))).toBe(1);
  });
});

describe("DailyCounter in cluster mode", () => {
  const outcome = (ts: string, sent: number, via?: { host: string; pos: number }) => ({
    v: 1,
    type: "outcome" as const,
    id: "m",
    ts,
    attempt: 1,
    transaction: { upstream: "p", envelope: { from: "a@b.c", to: [] }, code: 250, response: "250 ok" },
    recipients: Array.from({ length: sent }, (_, i) => ({ address: `r${i}@x.y`, state: "sent" as const })),
    ...(via ? { via } : {}),
  });

  it("counts the cluster's sends and, apart, this host's own (records not copied from another host)", () => {
    const counter = new DailyCounter("UTC");
    counter.observe(outcome("2026-11-23T10:00:00Z", 2));
    counter.observe(outcome("2026-11-23T10:01:00Z", 5, { host: "OTHER", pos: 10 }));
    expect(counter.count("p", at("2026-11-23T11:00:00Z"))).toBe(7);
    expect(counter.ownCount("p", at("2026-11-23T11:00:00Z"))).toBe(2);
    const restored = new DailyCounter("UTC");
    restored.restore(JSON.parse(JSON.stringify(counter.state())));
    expect(restored.count("p", at("2026-11-23T11:00:00Z"))).toBe(7);
    expect(restored.ownCount("p", at("2026-11-23T11:00:00Z"))).toBe(2);
  });

  it("restores what an index from before cluster mode saved (one list: all of it this host's)", () => {
    const counter = new DailyCounter("UTC");
    counter.restore([["p", { day: "2026-11-23", count: 4 }]]);
    expect(counter.count("p", at("2026-11-23T11:00:00Z"))).toBe(4);
    expect(counter.ownCount("p", at("2026-11-23T11:00:00Z"))).toBe(4);
  });
});
