import { describe, expect, it } from "vitest";
import { backoffMs, type RetryPolicy } from "./backoff.js";

const policy: RetryPolicy = { attempts: 10, baseSeconds: 30, maxSeconds: 1800 };
const fixed = (value: number) => () => value;
const top = fixed(1 - Number.EPSILON);

describe("backoffMs", () => {
  it("doubles per attempt at the top of the jitter range, up to maxSeconds", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffMs(attempt, policy, top));
    expect(delays).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000]);
  });

  it("jitters into the upper half of the exponential ceiling", () => {
    expect(backoffMs(3, policy, fixed(0))).toBe(60_000);
    expect(backoffMs(3, policy, fixed(0.5))).toBe(90_000);
    expect(backoffMs(4, policy, fixed(0.25))).toBe(150_000);
    expect(backoffMs(4, policy, fixed(0))).toBe(120_000);
  });

  it("never goes below baseSeconds", () => {
    expect(backoffMs(1, policy, fixed(0))).toBe(30_000);
    expect(backoffMs(0, policy, fixed(0))).toBe(30_000);
    expect(backoffMs(-3, policy, fixed(0.7))).toBe(30_000);
  });

  it("is capped at maxSeconds however late the attempt", () => {
    for (const attempt of [7, 12, 50, 1100]) {
      expect(backoffMs(attempt, policy, top)).toBe(1_800_000);
      expect(backoffMs(attempt, policy, fixed(0))).toBe(900_000);
    }
  });

  it("stays within [base, max] and is a whole number of ms for every random value", () => {
    for (let attempt = 1; attempt <= 20; attempt += 1) {
      for (let r = 0; r < 1; r += 0.05) {
        const delay = backoffMs(attempt, { attempts: 5, baseSeconds: 7, maxSeconds: 600 }, fixed(r));
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(7_000);
        expect(delay).toBeLessThanOrEqual(600_000);
      }
    }
  });

  it("grows with the attempt number for the same random value", () => {
    for (const r of [0, 0.3, 0.9]) {
      const delays = [2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt, policy, fixed(r)));
      for (let i = 1; i < delays.length; i += 1) expect(delays[i]).toBe(delays[i - 1]! * 2);
    }
  });

  it("uses Math.random by default", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffMs(6, policy)));
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(480_000);
      expect(delay).toBeLessThanOrEqual(960_000);
    }
    expect(delays.size).toBeGreaterThan(1);
  });
});
