import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MailIndex } from "../spool/mail-index.js";
import type { AcceptedRecord } from "../spool/record.js";
import type { Mail } from "../types.js";
import { ScheduledRelease } from "./scheduled-release.js";

const start = Date.parse("2026-12-01T12:00:00Z");
let offset = 0;

function accept(index: MailIndex, id: string, sendAt?: number): void {
  const mail: Mail = {
    subject: id,
    html: "<p>x</p>",
    to: [{ address: "a@example.com" }],
    cc: [],
    bcc: [],
    attachments: [],
    messageId: `<${id}@example.com>`,
    ...(sendAt !== undefined ? { sendAt: new Date(sendAt).toISOString() } : {}),
  };
  const record: AcceptedRecord = { v: 1, type: "accepted", id, ts: new Date(start).toISOString(), client: "c", mail };
  index.apply(record, { segment: 1, offset, length: 100 });
  offset += 100;
}

describe("ScheduledRelease", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: start });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands each mail out at its time, never before, once, in time order", () => {
    const index = new MailIndex();
    accept(index, "late", start + 5_000);
    accept(index, "early", start + 1_000);
    accept(index, "same-b", start + 3_000);
    accept(index, "same-a", start + 3_000);
    accept(index, "plain");
    const pushed: string[] = [];
    const release = new ScheduledRelease(index, (id) => pushed.push(id));
    release.start();
    expect(pushed).toEqual([]);
    vi.advanceTimersByTime(999);
    expect(pushed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(pushed).toEqual(["early"]);
    vi.advanceTimersByTime(2_000);
    expect(pushed).toEqual(["early", "same-a", "same-b"]);
    vi.advanceTimersByTime(10_000);
    expect(pushed).toEqual(["early", "same-a", "same-b", "late"]);
    release.stop();
  });

  it("releases a restart's overdue mails at once", () => {
    const index = new MailIndex();
    accept(index, "overdue", start - 60_000);
    const pushed: string[] = [];
    new ScheduledRelease(index, (id) => pushed.push(id)).start();
    expect(pushed).toEqual(["overdue"]);
  });

  it("moves its one timer earlier for a mail accepted for before it, and skips a cancelled one", () => {
    const index = new MailIndex();
    accept(index, "later", start + 60_000);
    const pushed: string[] = [];
    const release = new ScheduledRelease(index, (id) => pushed.push(id));
    release.start();
    accept(index, "sooner", start + 2_000);
    release.scheduled(new Date(start + 2_000).toISOString());
    accept(index, "cancelled", start + 1_000);
    index.apply(
      { v: 1, type: "cancel", id: "cancelled", ts: new Date(start).toISOString(), reason: "test" },
      {
        segment: 1,
        offset: (offset += 100),
        length: 100,
      },
    );
    release.scheduled(new Date(start + 1_000).toISOString());
    index.flush();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2_000);
    expect(pushed).toEqual(["sooner"]);
    vi.advanceTimersByTime(58_000);
    expect(pushed).toEqual(["sooner", "later"]);
    release.stop();
  });

  it("holds one timer for 100k scheduled mails and releases a burst due at one time in full, in batches", () => {
    const index = new MailIndex();
    const count = 100_000;
    for (let n = 0; n < count; n += 1) accept(index, `m${String(n).padStart(6, "0")}`, start + 1_000 + (n % 2) * 1_000);
    index.flush();
    const pushed: string[] = [];
    const release = new ScheduledRelease(index, (id) => pushed.push(id));
    release.start();
    expect(vi.getTimerCount()).toBe(1);
    // a burst is taken 1000 at a time, a timer turn apart
    vi.advanceTimersByTime(1_000);
    expect(pushed.length).toBe(1_000);
    vi.advanceTimersByTime(200);
    expect(pushed.length).toBe(count / 2);
    vi.advanceTimersByTime(1_000);
    expect(pushed.length).toBe(count);
    expect(new Set(pushed).size).toBe(count);
    release.stop();
  });
});
