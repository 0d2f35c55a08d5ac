import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { MailIndex } from "../spool/mail-index.js";
import type { SpoolRecord } from "../spool/record.js";
import { fileHash, ingestedBefore, pickupKeyWindowMs } from "./used-name.js";

const usedAt = Date.parse("2026-11-23T12:00:00.000Z");
const location = { segment: 1, offset: 0, length: 100 };

/** An index where pickup:<name> was used by a record of this type, with this requestHash (none: an older record). */
function indexWith(type: "accepted" | "replay" | "cancel", name: string, requestHash?: string): MailIndex {
  const index = new MailIndex();
  const base = { v: 1, id: "01M846C4M4R0YB5DS6EVPT1JM3", ts: new Date(usedAt).toISOString() };
  const key = { idempotencyKey: `pickup:${name}`, ...(requestHash ? { requestHash } : {}) };
  const mail = {
    subject: "s",
    html: "",
    to: [{ address: "a@x.test" }],
    cc: [],
    bcc: [],
    attachments: [],
    messageId: "<m@x>",
  };
  index.apply({ ...base, type: "accepted", client: "pickup", mail, ...(type === "accepted" ? key : {}) }, location);
  if (type === "replay")
    index.apply({ ...base, type, recipients: ["a@x.test"], reason: "r", ...key } as SpoolRecord, location);
  if (type === "cancel") index.apply({ ...base, type, reason: "r", ...key } as SpoolRecord, location);
  return index;
}

describe("ingestedBefore", () => {
  it("tells the same file (removed) from another under the same name (refused), whatever the bytes and record", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("accepted" as const, "replay" as const, "cancel" as const),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: pickupKeyWindowMs }),
        (type, first, second, later) => {
          const index = indexWith(type, "f.json", fileHash(Buffer.from(first)));
          const now = usedAt + later;
          if (Buffer.from(first).equals(Buffer.from(second)))
            expect(ingestedBefore(index, "f.json", fileHash(Buffer.from(second)), now)).toBe(
              "01M846C4M4R0YB5DS6EVPT1JM3",
            );
          else
            expect(() => ingestedBefore(index, "f.json", fileHash(Buffer.from(second)), now)).toThrow(
              expect.objectContaining({ code: "conflict" }),
            );
          expect(ingestedBefore(index, "other.json", fileHash(Buffer.from(second)), now)).toBeUndefined();
        },
      ),
    );
  });

  it("says which mail the name went to, when, and that each file needs a new name", () => {
    const index = indexWith("accepted", "f.json", fileHash(Buffer.from("{}")));
    let error: unknown;
    try {
      ingestedBefore(index, "f.json", fileHash(Buffer.from('{"title":"another"}')), usedAt + 2000);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MailspoolError);
    expect((error as MailspoolError).status).toBe(409);
    expect((error as Error).message).toBe(
      "the name was already used for mail 01M846C4M4R0YB5DS6EVPT1JM3 at 2026-11-23T12:00:00.000Z, within the last 24 h, " +
        "by a file with other content; each pickup file needs a new name (drop this one again under a name not used before)",
    );
  });

  it("a name used more than 24 h ago is free again", () => {
    const index = indexWith("cancel", "f.json", fileHash(Buffer.from("{}")));
    expect(
      ingestedBefore(index, "f.json", fileHash(Buffer.from("[]")), usedAt + pickupKeyWindowMs + 1),
    ).toBeUndefined();
  });

  it("a record written before file hashes were kept counts as this file, as before (removed, whatever it holds)", () => {
    for (const type of ["accepted", "replay", "cancel"] as const)
      expect(ingestedBefore(indexWith(type, "f.json"), "f.json", fileHash(Buffer.from("anything")), usedAt + 1)).toBe(
        "01M846C4M4R0YB5DS6EVPT1JM3",
      );
  });
});
