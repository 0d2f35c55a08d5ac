import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

/** A clock the test moves by hand, and a sleep that moves it to the sleeper's wake time. */
function fakeTime() {
  const time = { now: 0 };
  const sleep = async (ms: number): Promise<void> => {
    const wakeAt = time.now + ms;
    await Promise.resolve();
    time.now = Math.max(time.now, wakeAt);
  };
  return { time, now: () => time.now, sleep };
}

describe("TokenBucket", () => {
  it("starts full with burst tokens", () => {
    const { now } = fakeTime();
    const bucket = new TokenBucket(1, 3, now);
    expect(bucket.available).toBe(3);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0]);
    expect(bucket.tryTake()).toBeGreaterThan(0);
  });

  it("tryTake returns the ms until a token and takes nothing meanwhile", () => {
    const { time, now } = fakeTime();
    const bucket = new TokenBucket(4, 1, now);
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(250);
    time.now = 100;
    expect(bucket.tryTake()).toBe(150);
    expect(bucket.available).toBeCloseTo(0.4);
    time.now = 250;
    expect(bucket.tryTake()).toBe(0);
  });

  it("refills continuously at the rate", () => {
    const { time, now } = fakeTime();
    const bucket = new TokenBucket(2, 5, now);
    for (let i = 0; i < 5; i++) bucket.tryTake();
    expect(bucket.available).toBe(0);
    time.now = 1_000;
    expect(bucket.available).toBeCloseTo(2);
    time.now = 1_500;
    expect(bucket.available).toBeCloseTo(3);
  });

  it("never holds more than burst", () => {
    const { time, now } = fakeTime();
    const bucket = new TokenBucket(10, 2, now);
    bucket.tryTake();
    time.now = 3_600_000;
    expect(bucket.available).toBe(2);
    expect([bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0]);
    expect(bucket.tryTake()).toBe(100);
  });

  it("works with a fractional rate", async () => {
    const { time, now, sleep } = fakeTime();
    const bucket = new TokenBucket(0.5, 1, now);
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(2_000);
    time.now = 1_999;
    expect(bucket.tryTake()).toBe(1);
    time.now = 2_000;
    expect(bucket.tryTake()).toBe(0);
    expect(await bucket.take(sleep)).toBe(2_000);
    expect(time.now).toBe(4_000);
  });

  it("serves 10 concurrent takers with burst 2 at 4/s in about 2 s, in call order", async () => {
    const { time, now, sleep } = fakeTime();
    const bucket = new TokenBucket(4, 2, now);
    const waits = await Promise.all(Array.from({ length: 10 }, () => bucket.take(sleep)));
    expect(waits).toEqual([0, 0, 250, 500, 750, 1_000, 1_250, 1_500, 1_750, 2_000]);
    expect(time.now).toBe(2_000);
    expect(bucket.available).toBeCloseTo(0);
  });

  it("never lets more through than burst plus what the rate refilled", async () => {
    const { time, now, sleep } = fakeTime();
    const rate = 3;
    const burst = 2;
    const bucket = new TokenBucket(rate, burst, now);
    const grantedAt: number[] = [];
    const takeAndRecord = async (): Promise<void> => {
      const calledAt = time.now;
      grantedAt.push(calledAt + (await bucket.take(sleep)));
    };
    await Promise.all(Array.from({ length: 8 }, takeAndRecord));
    for (let i = 0; i < 12; i++) await takeAndRecord();
    grantedAt.sort((a, b) => a - b);
    grantedAt.forEach((t, i) => {
      // The (i+1)-th token: no earlier than the rate allows, no later than it implies
      // (plus a millisecond of rounding up per wait).
      expect(i + 1).toBeLessThanOrEqual(burst + (t * rate) / 1000);
      expect(t).toBeLessThanOrEqual(Math.max(0, ((i + 1 - burst) * 1000) / rate) + i);
    });
    // 20 tokens: 2 from the burst, 18 refilled at 3/s, so about 6 s and not much more.
    expect(time.now).toBeGreaterThanOrEqual(6_000);
    expect(time.now).toBeLessThanOrEqual(6_020);
  });

  it("does not let tryTake jump ahead of waiting takers", async () => {
    const { time, now, sleep } = fakeTime();
    const bucket = new TokenBucket(1, 1, now);
    await bucket.take(sleep);
    const waiting = bucket.take(sleep);
    expect(bucket.tryTake()).toBe(2_000);
    expect(await waiting).toBe(1_000);
    expect(time.now).toBe(1_000);
    expect(bucket.tryTake()).toBe(1_000);
  });

  it("waits on the real clock by default", async () => {
    const bucket = new TokenBucket(50, 1);
    expect(await bucket.take()).toBe(0);
    const started = performance.now();
    expect(await bucket.take()).toBeGreaterThan(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it("rejects a rate or burst that could never hand out a token", () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0.5)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 1)).toThrow(RangeError);
  });
});

describe("TokenBucket.share", () => {
  it("paces at the share of the rate and caps the burst at the share, never below 1", () => {
    let now = 0;
    const bucket = new TokenBucket(30, 9, () => now);
    bucket.share(1 / 3);
    expect(bucket.available).toBe(3);
    for (let i = 0; i < 3; i += 1) expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(100); // 10/s
    now += 1000;
    expect(bucket.available).toBe(3);
    bucket.share(1 / 20);
    expect(bucket.available).toBe(1);
    bucket.share(1);
    now += 1000;
    expect(bucket.available).toBe(9);
  });
});
