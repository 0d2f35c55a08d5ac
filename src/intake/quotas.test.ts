import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { createLogger } from "../log.js";
import type { AcceptedRecord } from "../spool/record.js";
import { Quotas } from "./quotas.js";

const accepted = (client: string, ts: string): AcceptedRecord => ({
  v: 1,
  type: "accepted",
  id: `m-${ts}`,
  ts,
  client,
  mail: { subject: "s", html: "h", to: [{ address: "a@x.io" }], cc: [], bcc: [], attachments: [], messageId: "<m@x>" },
});

function refusal(quotas: Quotas, client: string): MailspoolError | null {
  try {
    quotas.check(client);
    return null;
  } catch (error) {
    return error as MailspoolError;
  }
}

describe("Quotas", () => {
  it("refuses a client over its hourly quota with the seconds left in the window", () => {
    let now = Date.parse("2026-11-23T12:59:30.000Z");
    const quotas = new Quotas(
      { perClient: { hour: 2, day: 0 }, global: { hour: 0, day: 0 } },
      "UTC",
      createLogger("silent"),
      () => now,
    );
    quotas.observe(accepted("ip:10.0.0.1", "2026-11-23T12:10:00.000Z"));
    expect(refusal(quotas, "ip:10.0.0.1")).toBeNull();
    quotas.observe(accepted("ip:10.0.0.1", "2026-11-23T12:20:00.000Z"));
    const error = refusal(quotas, "ip:10.0.0.1");
    expect(error?.status).toBe(429);
    expect(error?.retryAfterSeconds).toBe(30);
    expect(refusal(quotas, "ip:10.0.0.2")).toBeNull();
    now = Date.parse("2026-11-23T13:00:00.000Z");
    expect(refusal(quotas, "ip:10.0.0.1")).toBeNull();
  });

  it("refuses a batch that would take a client past its quota, though one more mail would fit", () => {
    const quotas = new Quotas(
      { perClient: { hour: 3, day: 0 }, global: { hour: 0, day: 0 } },
      "UTC",
      createLogger("silent"),
      () => Date.parse("2026-11-23T12:30:00.000Z"),
    );
    quotas.observe(accepted("ip:10.0.0.1", "2026-11-23T12:10:00.000Z"));
    expect(() => quotas.check("ip:10.0.0.1", 2)).not.toThrow();
    expect(() => quotas.check("ip:10.0.0.1", 3)).toThrow(expect.objectContaining({ status: 429 }));
  });

  it("applies day windows in the configured zone and the global quota across clients", () => {
    const now = Date.parse("2026-11-23T15:00:00.000Z"); // 23:00 in Shanghai
    const quotas = new Quotas(
      { perClient: { hour: 0, day: 0 }, global: { hour: 0, day: 2 } },
      "Asia/Shanghai",
      createLogger("silent"),
      () => now,
    );
    quotas.observe(accepted("token:a", "2026-11-23T01:00:00.000Z"));
    quotas.observe(accepted("token:b", "2026-11-23T14:00:00.000Z"));
    quotas.observe(accepted("token:c", "2026-11-22T14:00:00.000Z")); // the day before, local time
    const error = refusal(quotas, "token:z");
    expect(error?.status).toBe(429);
    expect(error?.retryAfterSeconds).toBe(3600);
    expect(error?.message).toContain("global");
  });

  it("does not count pickup files, which are the operator's", () => {
    const quotas = new Quotas(
      { perClient: { hour: 0, day: 0 }, global: { hour: 1, day: 0 } },
      "UTC",
      createLogger("silent"),
      () => Date.parse("2026-11-23T12:00:00.000Z"),
    );
    quotas.observe(accepted("pickup", "2026-11-23T12:00:00.000Z"));
    expect(refusal(quotas, "ip:1.2.3.4")).toBeNull();
  });
});
