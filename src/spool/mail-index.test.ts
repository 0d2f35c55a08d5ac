import { describe, expect, it } from "vitest";
import type { Mail, RecipientState, Transaction } from "../types.js";
import { MailIndex } from "./mail-index.js";
import type { AcceptedRecord, AttemptRecord, OutcomeRecord } from "./record.js";
import type { Location } from "./segment.js";

const at = (offset: number): Location => ({ segment: 1, offset, length: 100 });

function accepted(id: string, ts: string, to: string[], cc: string[] = [], bcc: string[] = []): AcceptedRecord {
  const mail: Mail = {
    subject: `subject of ${id}`,
    html: "<p>x</p>",
    to: to.map((address) => ({ address, name: address.split("@")[0] })),
    cc: cc.map((address) => ({ address })),
    bcc: bcc.map((address) => ({ address })),
    attachments: [],
    messageId: `<${id}@example.com>`,
  };
  return { v: 1, type: "accepted", id, ts, client: "10.0.0.7", mail };
}

function transaction(code: number, response: string, to: string[]): Transaction {
  return { upstream: "primary", envelope: { from: "relay@example.com", to }, code, response };
}

function outcome(
  id: string,
  attempt: number,
  ts: string,
  tx: Transaction,
  states: Record<string, RecipientState>,
): OutcomeRecord {
  return {
    v: 1,
    type: "outcome",
    id,
    ts,
    attempt,
    transaction: tx,
    recipients: Object.entries(states).map(([address, state]) => ({ address, state })),
  };
}

function attemptEnd(
  id: string,
  attempt: number,
  ts: string,
  state: AttemptRecord["state"],
  nextAttemptAt?: string,
): AttemptRecord {
  return { v: 1, type: "attempt", id, ts, attempt, state, ...(nextAttemptAt ? { nextAttemptAt } : {}) };
}

const ids = (entries: { id: string }[]) => entries.map((e) => e.id);
const states = (index: MailIndex, id: string) => index.get(id)?.recipients.map((r) => [r.address, r.state]);

describe("MailIndex fold", () => {
  it("an accepted record makes a queued mail with every recipient pending", () => {
    const index = new MailIndex();
    index.apply(
      accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test"], ["c@x.test"], ["d@x.test"]),
      at(0),
    );
    expect(index.size).toBe(1);
    expect(index.get("m1")).toEqual({
      id: "m1",
      state: "queued",
      acceptedAt: "2025-01-15T09:00:00.000Z",
      client: "10.0.0.7",
      subject: "subject of m1",
      location: at(0),
      attemptsBeforeReplay: 0,
      blobs: [],
      recipients: [
        { address: "a@x.test", name: "a", kind: "to", state: "pending" },
        { address: "b@x.test", name: "b", kind: "to", state: "pending" },
        { address: "c@x.test", name: undefined, kind: "cc", state: "pending" },
        { address: "d@x.test", name: undefined, kind: "bcc", state: "pending" },
      ],
      attempts: [],
      events: { sent: false, failed: false, processed: false },
    });
    expect(index.get("other")).toBeUndefined();
  });

  it("outcome records update recipient states, last errors and the attempt's transactions", () => {
    const index = new MailIndex();
    index.apply(accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test", "c@x.test"]), at(0));
    const rejected = transaction(550, "5.1.1 no such user", ["b@x.test"]);
    const ok = transaction(250, "2.0.0 queued", ["a@x.test"]);
    index.apply(outcome("m1", 1, "2025-01-15T09:00:01.000Z", rejected, { "b@x.test": "failed-permanent" }), at(100));
    index.apply(
      outcome("m1", 1, "2025-01-15T09:00:02.000Z", ok, { "a@x.test": "sent", "stranger@x.test": "sent" }),
      at(200),
    );

    const entry = index.get("m1")!;
    expect(states(index, "m1")).toEqual([
      ["a@x.test", "sent"],
      ["b@x.test", "failed-permanent"],
      ["c@x.test", "pending"],
    ]);
    expect(entry.recipients[0]!.lastError).toBeUndefined();
    expect(entry.recipients[1]!.lastError).toBe("550 5.1.1 no such user");
    expect(entry.state).toBe("queued");
    expect(entry.attempts).toEqual([
      { attempt: 1, startedAt: "2025-01-15T09:00:01.000Z", transactions: [rejected, ok] },
    ]);
    expect(entry.location).toEqual(at(0));
  });

  it("an attempt record with state deferred marks open recipients deferred and sets nextAttemptAt", () => {
    const index = new MailIndex();
    index.apply(accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test", "c@x.test"]), at(0));
    index.apply(
      outcome("m1", 1, "2025-01-15T09:00:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(100),
    );
    index.apply(
      outcome("m1", 1, "2025-01-15T09:00:01.500Z", transaction(550, "no", ["b@x.test"]), {
        "b@x.test": "failed-permanent",
      }),
      at(200),
    );
    index.apply(attemptEnd("m1", 1, "2025-01-15T09:00:02.000Z", "deferred", "2025-01-15T09:00:32.000Z"), at(300));

    const entry = index.get("m1")!;
    expect(entry.state).toBe("deferred");
    expect(entry.nextAttemptAt).toBe("2025-01-15T09:00:32.000Z");
    expect(states(index, "m1")).toEqual([
      ["a@x.test", "sent"],
      ["b@x.test", "failed-permanent"],
      ["c@x.test", "deferred"],
    ]);
    expect(entry.attempts[0]).toMatchObject({
      attempt: 1,
      startedAt: "2025-01-15T09:00:01.000Z",
      endedAt: "2025-01-15T09:00:02.000Z",
      state: "deferred",
      nextAttemptAt: "2025-01-15T09:00:32.000Z",
    });
    expect(index.undelivered().map((m) => m.id)).toEqual(["m1"]);
  });

  it("a final partial or failed attempt makes open recipients failed-transient", () => {
    const index = new MailIndex();
    index.apply(accepted("partial", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test", "c@x.test"]), at(0));
    index.apply(attemptEnd("partial", 1, "2025-01-15T09:00:01.000Z", "deferred", "2025-01-15T09:01:00.000Z"), at(100));
    index.apply(
      outcome("partial", 2, "2025-01-15T09:01:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(200),
    );
    index.apply(
      outcome("partial", 2, "2025-01-15T09:01:02.000Z", transaction(550, "no", ["c@x.test"]), {
        "c@x.test": "failed-permanent",
      }),
      at(300),
    );
    index.apply(attemptEnd("partial", 2, "2025-01-15T09:01:03.000Z", "partial"), at(400));
    expect(index.get("partial")!.state).toBe("partial");
    expect(index.get("partial")!.nextAttemptAt).toBeUndefined();
    expect(states(index, "partial")).toEqual([
      ["a@x.test", "sent"],
      ["b@x.test", "failed-transient"],
      ["c@x.test", "failed-permanent"],
    ]);
    expect(index.get("partial")!.attempts.map((a) => [a.attempt, a.state])).toEqual([
      [1, "deferred"],
      [2, "partial"],
    ]);

    index.apply(accepted("failed", "2025-01-15T09:02:00.000Z", ["d@x.test", "e@x.test"]), at(500));
    index.apply(
      outcome("failed", 1, "2025-01-15T09:02:01.000Z", transaction(451, "later", ["d@x.test"]), {
        "d@x.test": "deferred",
      }),
      at(600),
    );
    index.apply(attemptEnd("failed", 1, "2025-01-15T09:02:02.000Z", "failed"), at(700));
    expect(states(index, "failed")).toEqual([
      ["d@x.test", "failed-transient"],
      ["e@x.test", "failed-transient"],
    ]);
    expect(index.get("failed")!.recipients[0]!.lastError).toBe("451 later");
    expect(index.undelivered()).toEqual([]);
  });

  it("a sent attempt leaves recipient states as the outcomes set them", () => {
    const index = new MailIndex();
    index.apply(accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test"]), at(0));
    index.apply(
      outcome("m1", 1, "2025-01-15T09:00:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(100),
    );
    index.apply(attemptEnd("m1", 1, "2025-01-15T09:00:02.000Z", "sent"), at(200));
    expect(index.get("m1")!.state).toBe("sent");
    expect(states(index, "m1")).toEqual([["a@x.test", "sent"]]);
  });

  it("counts records for unknown ids as orphans and ignores them", () => {
    const index = new MailIndex();
    index.apply(accepted("known", "2025-01-15T09:00:00.000Z", ["a@x.test"]), at(0));
    index.apply(
      outcome("ghost", 1, "2025-01-15T09:00:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(100),
    );
    index.apply(attemptEnd("ghost", 1, "2025-01-15T09:00:02.000Z", "sent"), at(200));
    expect(index.orphanRecords).toBe(2);
    expect(index.size).toBe(1);
    expect(index.get("ghost")).toBeUndefined();
    expect(index.get("known")!.state).toBe("queued");
    expect(states(index, "known")).toEqual([["a@x.test", "pending"]]);
  });
});

describe("MailIndex scheduled mails", () => {
  it("a mail with sendAt is scheduled until its time; it is started only once due, then ends like any other", () => {
    const index = new MailIndex();
    const record = accepted("later", "2025-01-15T09:00:00.000Z", ["a@x.test"]);
    record.mail = { ...record.mail, sendAt: "2025-01-15T10:00:00.000Z", tags: ["t1", "t2"] };
    index.apply(record, at(0));
    index.apply(accepted("now", "2025-01-15T09:00:01.000Z", ["b@x.test"]), at(100));
    expect(index.get("later")).toMatchObject({ state: "scheduled", nextAttemptAt: "2025-01-15T10:00:00.000Z" });
    expect(ids(index.list({ state: "scheduled", limit: 10 }))).toEqual(["later"]);
    expect(ids(index.list({ tag: "t2", limit: 10 }))).toEqual(["later"]);
    expect(ids(index.undelivered())).toEqual(["now"]);
    expect(index.startSending("later", Date.parse("2025-01-15T09:59:59.999Z"))).toBeUndefined();
    expect(index.startSending("later", Date.parse("2025-01-15T10:00:00.000Z"))?.state).toBe("sending");
    expect(index.countByState()).toMatchObject({ scheduled: 0, sending: 1, queued: 1 });
    index.apply(
      outcome("later", 1, "2025-01-15T10:00:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(200),
    );
    index.apply(attemptEnd("later", 1, "2025-01-15T10:00:01.000Z", "sent"), at(300));
    expect(index.get("later")).toMatchObject({ state: "sent", nextAttemptAt: undefined });
    expect(index.countByState()).toMatchObject({ scheduled: 0, sending: 0, sent: 1 });
  });

  it("a scheduled mail the relay stopped in mid-attempt is among the undelivered, said to be open", () => {
    const index = new MailIndex();
    const record = accepted("cut", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test"]);
    record.mail = { ...record.mail, sendAt: "2025-01-15T10:00:00.000Z" };
    index.apply(record, at(0));
    index.apply(
      outcome("cut", 1, "2025-01-15T10:00:01.000Z", transaction(250, "ok", ["a@x.test"]), { "a@x.test": "sent" }),
      at(100),
    );
    expect(index.undelivered()).toEqual([
      { id: "cut", state: "scheduled", nextAttemptAt: "2025-01-15T10:00:00.000Z", openAttempt: true },
    ]);
  });
});

describe("MailIndex views", () => {
  function populated(): MailIndex {
    const index = new MailIndex();
    index.apply(accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test"]), at(0));
    index.apply(accepted("m2", "2025-01-15T10:00:00.000Z", ["a@x.test"]), at(100));
    index.apply(accepted("m3", "2025-01-15T11:00:00.000Z", ["a@x.test"]), at(200));
    index.apply(accepted("m4", "2025-01-15T12:00:00.000Z", ["a@x.test"]), at(300));
    index.apply(attemptEnd("m1", 1, "2025-01-15T12:30:00.000Z", "sent"), at(400));
    index.apply(attemptEnd("m3", 1, "2025-01-15T12:31:00.000Z", "sent"), at(500));
    index.apply(attemptEnd("m2", 1, "2025-01-15T12:32:00.000Z", "deferred", "2025-01-15T13:00:00.000Z"), at(600));
    return index;
  }

  it("list() is newest first and honours limit", () => {
    const index = populated();
    expect(ids(index.list({ limit: 100 }))).toEqual(["m4", "m3", "m2", "m1"]);
    expect(ids(index.list({ limit: 2 }))).toEqual(["m4", "m3"]);
    expect(ids(index.list({ limit: 0 }))).toEqual([]);
  });

  it("list() filters by state", () => {
    const index = populated();
    expect(ids(index.list({ state: "sent", limit: 100 }))).toEqual(["m3", "m1"]);
    expect(ids(index.list({ state: "sent", limit: 1 }))).toEqual(["m3"]);
    expect(ids(index.list({ state: "queued", limit: 100 }))).toEqual(["m4"]);
    expect(ids(index.list({ state: "failed", limit: 100 }))).toEqual([]);
  });

  it("list() filters by since (inclusive), combined with state", () => {
    const index = populated();
    expect(ids(index.list({ since: new Date("2025-01-15T10:00:00.000Z"), limit: 100 }))).toEqual(["m4", "m3", "m2"]);
    expect(ids(index.list({ since: new Date("2025-01-15T10:00:00.001Z"), limit: 100 }))).toEqual(["m4", "m3"]);
    expect(ids(index.list({ since: new Date("2025-01-15T10:30:00.000Z"), state: "sent", limit: 100 }))).toEqual(["m3"]);
  });

  it("undelivered() and countByState() follow the fold", () => {
    const index = populated();
    expect(ids(index.undelivered())).toEqual(["m2", "m4"]);
    expect(index.countByState()).toEqual({
      scheduled: 0,
      queued: 1,
      sending: 0,
      deferred: 1,
      sent: 2,
      partial: 0,
      failed: 0,
      cancelled: 0,
    });
  });
});

describe("MailIndex operator records", () => {
  it("a replay re-queues the named recipients with a fresh budget; a cancel is terminal", () => {
    const index = new MailIndex();
    index.apply(accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test", "b@x.test"]), at(0));
    index.apply(
      { v: 1, type: "attempt", id: "m1", ts: "2025-01-15T09:01:00.000Z", attempt: 1, state: "failed" },
      at(100),
    );
    expect(index.get("m1")!.recipients.map((r) => r.state)).toEqual(["failed-transient", "failed-transient"]);
    index.apply(
      {
        v: 1,
        type: "replay",
        id: "m1",
        ts: "2025-01-15T10:00:00.000Z",
        recipients: ["b@x.test"],
        attempts: 1,
        reason: "test",
        idempotencyKey: "pickup:r.json",
      },
      at(200),
    );
    const entry = index.get("m1")!;
    expect(entry.state).toBe("queued");
    expect(entry.recipients.map((r) => r.state)).toEqual(["failed-transient", "pending"]);
    expect(entry).toMatchObject({ attemptsBeforeReplay: 1, replayBudget: 1 });
    expect(index.byIdempotencyKey("pickup:r.json", new Date("2025-01-15T00:00:00.000Z"))).toBe("m1");
    expect(index.byIdempotencyKey("pickup:r.json", new Date("2025-01-16T11:00:00.000Z"))).toBeUndefined();
    index.apply({ v: 1, type: "cancel", id: "m1", ts: "2025-01-15T10:01:00.000Z", reason: "test" }, at(300));
    expect(index.get("m1")!.state).toBe("cancelled");
  });
});

describe("MailIndex idempotency keys", () => {
  it("remember the requestHash of the last record under each key (accepted, replay, cancel), within the window", () => {
    const index = new MailIndex();
    const since = new Date("2025-01-15T00:00:00.000Z");
    index.apply(
      {
        ...accepted("m1", "2025-01-15T09:00:00.000Z", ["a@x.test"]),
        idempotencyKey: "pickup:a.json",
        requestHash: "h1",
      },
      at(0),
    );
    index.apply(accepted("m2", "2025-01-15T09:00:01.000Z", ["a@x.test"]), at(100));
    index.apply(
      {
        v: 1,
        type: "replay",
        id: "m2",
        ts: "2025-01-15T10:00:00.000Z",
        recipients: ["a@x.test"],
        reason: "t",
        idempotencyKey: "pickup:r.json",
        requestHash: "h2",
      },
      at(200),
    );
    index.apply(
      {
        v: 1,
        type: "cancel",
        id: "m2",
        ts: "2025-01-15T10:01:00.000Z",
        reason: "t",
        idempotencyKey: "pickup:c.json",
        requestHash: "h3",
      },
      at(300),
    );
    // a record written before hashes were kept
    index.apply(
      {
        v: 1,
        type: "cancel",
        id: "m1",
        ts: "2025-01-15T10:02:00.000Z",
        reason: "t",
        idempotencyKey: "pickup:old.json",
      },
      at(400),
    );
    expect(index.keyUse("pickup:a.json", since)).toEqual({
      id: "m1",
      ts: "2025-01-15T09:00:00.000Z",
      requestHash: "h1",
    });
    expect(index.keyUse("pickup:r.json", since)).toEqual({
      id: "m2",
      ts: "2025-01-15T10:00:00.000Z",
      requestHash: "h2",
    });
    expect(index.keyUse("pickup:c.json", since)).toEqual({
      id: "m2",
      ts: "2025-01-15T10:01:00.000Z",
      requestHash: "h3",
    });
    expect(index.keyUse("pickup:old.json", since)).toEqual({ id: "m1", ts: "2025-01-15T10:02:00.000Z" });
    expect(index.keyUse("pickup:a.json", new Date("2025-01-16T09:00:00.001Z"))).toBeUndefined();
    expect(index.keyUse("pickup:none.json", since)).toBeUndefined();
  });
});

describe("MailIndex activity", () => {
  it("counts per hour the mails accepted and the attempts ended since a time, and forgets ends older than asked", () => {
    const index = new MailIndex();
    const hours = [
      "2025-01-14T20",
      "2025-01-15T08",
      "2025-01-15T08",
      "2025-01-15T09",
      "2025-01-15T09",
      "2025-01-15T09",
    ];
    hours.forEach((hour, i) => index.apply(accepted(`m${i}`, `${hour}:1${i}:00.000Z`, ["a@x.test"]), at(i * 100)));
    index.apply(attemptEnd("m0", 1, "2025-01-14T21:00:00.000Z", "sent"), at(1000));
    index.apply(attemptEnd("m1", 1, "2025-01-15T08:30:00.000Z", "sent"), at(1100));
    index.apply(attemptEnd("m2", 1, "2025-01-15T09:20:00.000Z", "deferred"), at(1200));
    index.apply(attemptEnd("m3", 1, "2025-01-15T09:30:00.000Z", "sent"), at(1300));

    const activity = index.activitySince("2025-01-15T08:00:00.000Z");
    expect([...activity].sort()).toEqual([
      ["2025-01-15T08", { accepted: 2, sent: 1, failed: 0 }],
      ["2025-01-15T09", { accepted: 3, sent: 1, failed: 1 }],
    ]);
    // every starting point of the search over acceptance order gives the same window
    expect(index.activitySince("2025-01-15T09:00:00.000Z").get("2025-01-15T09")?.accepted).toBe(3);
    expect(index.activitySince("2025-01-16T00:00:00.000Z").size).toBe(0);
    expect(index.activitySince("2025-01-01T00:00:00.000Z").get("2025-01-14T20")?.accepted).toBe(1);

    // the failure-rate alert asks for the last hour and keeps a day of ends for the chart
    expect(index.attemptsEndedSince("2025-01-15T09:00:00.000Z", "2025-01-15T00:00:00.000Z")).toEqual({
      total: 2,
      failed: 1,
    });
    expect(index.activitySince("2025-01-14T00:00:00.000Z").get("2025-01-14T21")).toBeUndefined();
    expect(index.activitySince("2025-01-14T00:00:00.000Z").get("2025-01-15T08")?.sent).toBe(1);
  });
});
