import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLogger } from "../log.js";
import { AuthGuard, type AuthFailureLimits } from "./auth-guard.js";

function guardWith(limits: AuthFailureLimits) {
  const lines: Record<string, unknown>[] = [];
  const clock = { t: Date.parse("2026-11-23T12:00:00.000Z") };
  const log = createLogger("warn", { write: (line: string) => lines.push(JSON.parse(line)) });
  const guard = new AuthGuard(() => limits, { now: () => clock.t, sleep: async () => {} }, log);
  return { guard, lines, clock };
}

describe("AuthGuard", () => {
  it("answers later each time and closes the connection at its limit, logging user and address", () => {
    const { guard, lines } = guardWith({ perConnection: 3, perAddress: 100, windowSeconds: 900 });
    const session = {};
    const verdicts = [1, 2, 3].map(() => guard.failed(session, "127.0.0.1", "app"));
    expect(verdicts).toEqual([
      { reply: 535, delayMs: 500 },
      { reply: 535, delayMs: 1000 },
      { reply: 421, delayMs: 2000 },
    ]);
    expect(guard.failed({}, "127.0.0.1", "app")).toEqual({ reply: 535, delayMs: 500 });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ level: 40, user: "app", address: "127.0.0.1", msg: "smtp AUTH failed" });
  });

  it("caps the delay", () => {
    const { guard } = guardWith({ perConnection: 100, perAddress: 1000, windowSeconds: 900 });
    const session = {};
    const delays = Array.from({ length: 10 }, () => guard.failed(session, "10.0.0.1", "u").delayMs);
    expect(Math.max(...delays)).toBe(4000);
  });

  it("spends an address budget across connections, refuses that address until its window ends, and logs that once", () => {
    const { guard, lines, clock } = guardWith({ perConnection: 3, perAddress: 5, windowSeconds: 60 });
    for (let i = 0; i < 4; i++) expect(guard.failed({}, "10.0.0.7", "app").reply).toBe(535);
    expect(guard.lockedFor("10.0.0.7")).toBe(0);
    expect(guard.failed({}, "10.0.0.7", "app").reply).toBe(421);
    expect(guard.lockedFor("10.0.0.7")).toBe(60);
    expect(guard.lockedFor("10.0.0.8")).toBe(0);
    clock.t += 59_000;
    expect(guard.lockedFor("10.0.0.7")).toBe(1);
    expect(lines.filter((l) => String(l.msg).startsWith("smtp AUTH failure budget spent"))).toHaveLength(1);
    clock.t += 1_000;
    expect(guard.lockedFor("10.0.0.7")).toBe(0);
    expect(guard.failed({}, "10.0.0.7", "app").reply).toBe(535);
  });

  it("counts an IPv6 client by its /64", () => {
    const { guard } = guardWith({ perConnection: 3, perAddress: 2, windowSeconds: 60 });
    guard.failed({}, "2001:db8:1:2::1", "a");
    guard.failed({}, "2001:db8:1:2:ffff::9", "a");
    expect(guard.lockedFor("2001:db8:1:2::77")).toBeGreaterThan(0);
    expect(guard.lockedFor("2001:db8:1:3::1")).toBe(0);
  });

  it("lets through exactly the budget per window, in any order of addresses and time steps", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("10.0.0.1", "10.0.0.2", "::ffff:10.0.0.1"), fc.nat(30_000)), {
          maxLength: 60,
        }),
        (steps) => {
          const { guard, clock } = guardWith({ perConnection: 3, perAddress: 4, windowSeconds: 60 });
          const seen = new Map<string, { failures: number[]; refusals: number[] }>();
          for (const [address, advance] of steps) {
            clock.t += advance;
            const entry = seen.get(address.replace("::ffff:", "")) ?? { failures: [], refusals: [] };
            seen.set(address.replace("::ffff:", ""), entry);
            if (guard.lockedFor(address) > 0) entry.refusals.push(clock.t);
            else {
              guard.failed({}, address, "u");
              entry.failures.push(clock.t);
            }
          }
          // a window opens with the first failure after the previous one closed
          for (const { failures, refusals } of seen.values()) {
            const windows: number[][] = [];
            for (const t of failures)
              if (windows.length && t < windows.at(-1)![0]! + 60_000) windows.at(-1)!.push(t);
              else windows.push([t]);
            for (const w of windows) expect(w.length).toBeLessThanOrEqual(4);
            for (const r of refusals) expect(windows.find((w) => w[0]! <= r && r < w[0]! + 60_000)?.length).toBe(4);
          }
        },
      ),
    );
  });
});
