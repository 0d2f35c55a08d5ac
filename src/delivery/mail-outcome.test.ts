import { describe, expect, it } from "vitest";
import type { RecipientState } from "../types.js";
import { mailStateAfterAttempt } from "./mail-outcome.js";

const recipients = (...states: RecipientState[]) => states.map((state) => ({ state }));

describe("mailStateAfterAttempt", () => {
  it("sent when every recipient was sent", () => {
    expect(mailStateAfterAttempt(recipients("sent"), 1, 5)).toBe("sent");
    expect(mailStateAfterAttempt(recipients("sent", "sent", "sent"), 3, 5)).toBe("sent");
    expect(mailStateAfterAttempt(recipients("sent", "sent"), 5, 5)).toBe("sent");
  });

  it("partial when some were sent and the rest failed for good", () => {
    expect(mailStateAfterAttempt(recipients("sent", "failed-permanent"), 1, 5)).toBe("partial");
    expect(mailStateAfterAttempt(recipients("failed-transient", "sent"), 2, 5)).toBe("partial");
  });

  it("failed when none was sent and none is open", () => {
    expect(mailStateAfterAttempt(recipients("failed-permanent"), 1, 5)).toBe("failed");
    expect(mailStateAfterAttempt(recipients("failed-permanent", "failed-transient"), 1, 5)).toBe("failed");
  });

  it("deferred while a recipient is open and attempts remain, even if others were sent", () => {
    expect(mailStateAfterAttempt(recipients("deferred"), 1, 5)).toBe("deferred");
    expect(mailStateAfterAttempt(recipients("pending"), 1, 5)).toBe("deferred");
    expect(mailStateAfterAttempt(recipients("sent", "deferred"), 4, 5)).toBe("deferred");
    expect(mailStateAfterAttempt(recipients("failed-permanent", "deferred"), 1, 2)).toBe("deferred");
  });

  it("exhausted: open recipients on the last attempt end partial or failed", () => {
    expect(mailStateAfterAttempt(recipients("sent", "deferred"), 5, 5)).toBe("partial");
    expect(mailStateAfterAttempt(recipients("deferred", "pending"), 5, 5)).toBe("failed");
    expect(mailStateAfterAttempt(recipients("deferred"), 1, 1)).toBe("failed");
    expect(mailStateAfterAttempt(recipients("sent", "pending"), 7, 5)).toBe("partial");
  });
});
