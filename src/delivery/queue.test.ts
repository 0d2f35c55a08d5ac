import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeliveryQueue } from "./queue.js";

/** Lets already-resolved promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function track<T>(promise: Promise<T>): { done: boolean; value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe("DeliveryQueue ready FIFO", () => {
  it("hands out pushed ids in order", async () => {
    const queue = new DeliveryQueue();
    for (const id of ["a", "b", "c"]) queue.push(id);
    expect(queue.readyCount).toBe(3);
    expect([await queue.take(), await queue.take(), await queue.take()]).toEqual(["a", "b", "c"]);
    expect(queue.readyCount).toBe(0);
  });

  it("stays FIFO across many pushes and takes", async () => {
    const queue = new DeliveryQueue();
    const taken: (string | null)[] = [];
    for (let n = 0; n < 3000; n += 1) queue.push(`m${n}`);
    for (let n = 0; n < 2000; n += 1) taken.push(await queue.take());
    for (let n = 3000; n < 3500; n += 1) queue.push(`m${n}`);
    expect(queue.readyCount).toBe(1500);
    while (queue.readyCount > 0) taken.push(await queue.take());
    expect(taken).toEqual(Array.from({ length: 3500 }, (_, n) => `m${n}`));
  });

  it("take waits for the next push; waiters are served in order", async () => {
    const queue = new DeliveryQueue();
    const first = track(queue.take());
    const second = track(queue.take());
    await settle();
    expect(first.done).toBe(false);
    expect(second.done).toBe(false);

    queue.push("x");
    await settle();
    expect(first).toEqual({ done: true, value: "x" });
    expect(second.done).toBe(false);
    expect(queue.readyCount).toBe(0);

    queue.push("y");
    await settle();
    expect(second).toEqual({ done: true, value: "y" });
  });

  it("close resolves waiters with null, then take answers null and push is ignored", async () => {
    const queue = new DeliveryQueue();
    const waiters = [track(queue.take()), track(queue.take())];
    queue.close();
    await settle();
    expect(waiters).toEqual([
      { done: true, value: null },
      { done: true, value: null },
    ]);
    queue.push("late");
    expect(queue.readyCount).toBe(0);
    expect(await queue.take()).toBeNull();
  });
});

describe("DeliveryQueue schedule", () => {
  let now: number;
  let queue: DeliveryQueue;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
    queue = new DeliveryQueue(() => now);
  });
  afterEach(() => {
    queue.close();
    vi.useRealTimers();
  });

  it("moves a mail to ready when its time comes, measured with the injected clock", async () => {
    queue.schedule("later", now + 5_000);
    expect(queue.delayedCount).toBe(1);
    expect(queue.readyCount).toBe(0);
    vi.advanceTimersByTime(4_999);
    expect(queue.readyCount).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.readyCount).toBe(1);
    expect(queue.delayedCount).toBe(0);
    expect(await queue.take()).toBe("later");
  });

  it("a due or past time is ready at once", () => {
    queue.schedule("due", now);
    queue.schedule("past", now - 60_000);
    expect(queue.readyCount).toBe(2);
    expect(queue.delayedCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("wakes a waiting worker when the timer fires", async () => {
    const waiter = track(queue.take());
    queue.schedule("m1", now + 1_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(waiter.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(waiter).toEqual({ done: true, value: "m1" });
  });

  it("rescheduling an id replaces its timer", () => {
    queue.schedule("m1", now + 1_000);
    queue.schedule("m1", now + 10_000);
    expect(queue.delayedCount).toBe(1);
    vi.advanceTimersByTime(9_999);
    expect(queue.readyCount).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.readyCount).toBe(1);
  });

  it("keeps the order in which timers fire", async () => {
    queue.schedule("third", now + 3_000);
    queue.schedule("first", now + 1_000);
    queue.schedule("second", now + 2_000);
    vi.advanceTimersByTime(3_000);
    expect([await queue.take(), await queue.take(), await queue.take()]).toEqual(["first", "second", "third"]);
  });

  it("clamps delays beyond the 32-bit timer limit instead of firing at once", () => {
    queue.schedule("far", now + 2 ** 33);
    vi.advanceTimersByTime(1_000);
    expect(queue.readyCount).toBe(0);
    expect(queue.delayedCount).toBe(1);
  });

  it("does not keep the process alive for a delayed mail", () => {
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");
    queue.schedule("m1", now + 1_000);
    const timer = setTimeoutSpy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    setTimeoutSpy.mockRestore();
  });

  it("close cancels delayed mails", async () => {
    queue.schedule("m1", now + 1_000);
    queue.close();
    expect(queue.delayedCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(queue.readyCount).toBe(0);
    expect(await queue.take()).toBeNull();
  });

  // Rescheduling for now must cancel the earlier timer, or the id is pushed twice.
  it("scheduling an id for now cancels its pending timer", () => {
    queue.schedule("m1", now + 5_000);
    queue.schedule("m1", now);
    expect(queue.readyCount).toBe(1);
    expect(queue.delayedCount).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(queue.readyCount).toBe(1);
  });
});
