import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { mutatedAction, ulidPattern, wellFormedAction } from "../../test/helpers/pickup-requests.js";
import { pickupRequestOf } from "./pickup-request.js";

const id = "01M846C4M4R0YB5DS6EVPT1JM3";
const mailId = fc.stringMatching(ulidPattern);
const address = fc.emailAddress();

/** The fields of the error a refused file gets ([] when it is accepted). */
function refusedFields(members: [string, unknown][]): string[] {
  try {
    pickupRequestOf(members);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(MailspoolError);
    expect((error as MailspoolError).status).toBe(400);
    return (error as MailspoolError).errors!.map((e) => e.field);
  }
}

describe("pickupRequestOf", () => {
  it("reads a well-formed replay or cancel file as written", () => {
    fc.assert(
      fc.property(wellFormedAction(mailId, address), (members) => {
        const values = Object.fromEntries(members);
        const request = pickupRequestOf(members);
        if ("cancel" in values) expect(request).toEqual({ kind: "cancel", id: values.cancel });
        else expect(request).toEqual({ kind: "replay", id: values.replay, recipients: values.recipients });
      }),
    );
  });

  it("leaves a file with neither replay nor cancel to the new-mail rules, members untouched", () => {
    const key = fc.string().filter((k) => k !== "replay" && k !== "cancel");
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.jsonValue())), (members) => {
        expect(pickupRequestOf(members)).toEqual({ kind: "mail", members });
      }),
    );
  });

  it("refuses an unknown key, a repeated key, a wrong type or both actions, naming the key", () => {
    fc.assert(
      fc.property(mutatedAction(mailId, address), ({ members, named }) => {
        const fields = refusedFields(members);
        expect(fields.some((f) => f === named || f.startsWith(`${named}[`))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses the review's examples", () => {
    expect(
      refusedFields([
        ["replay", id],
        ["recipents", ["a@x.com"]],
      ]),
    ).toEqual(["recipents"]);
    expect(
      refusedFields([
        ["replay", id],
        ["recipients", "a@x.com"],
      ]),
    ).toEqual(["recipients"]);
    expect(
      refusedFields([
        ["cancel", id],
        ["replay", id],
      ]),
    ).toEqual(["cancel"]);
    expect(
      refusedFields([
        ["replay", id],
        ["recipients", ["a@x.com"]],
        ["recipients", ["b@x.com"]],
      ]),
    ).toEqual(["recipients"]);
    expect(
      refusedFields([
        ["replay", id],
        ["recipients", ["a@x.com", 7]],
      ]),
    ).toEqual(["recipients[1]"]);
    expect(refusedFields([["cancel", id.toLowerCase()]])).toEqual(["cancel"]);
  });

  it("says what is wrong and what the shape is", () => {
    expect(() =>
      pickupRequestOf([
        ["replay", id],
        ["recipients", "a@x.com"],
        ["priority", "high"],
      ]),
    ).toThrow(
      expect.objectContaining({
        message: "invalid replay file",
        errors: [
          { field: "recipients", message: 'must be a list of addresses (["a@example.com", …]), not a string' },
          {
            field: "priority",
            message:
              'unknown key; a replay file is exactly {"replay": "<id>", "recipients": ["…", …]} (recipients optional)',
          },
        ],
      }),
    );
    expect(() =>
      pickupRequestOf([
        ["cancel", 42],
        ["cancel", id],
        ["x\ny", 1],
      ]),
    ).toThrow(
      expect.objectContaining({
        errors: [
          { field: "cancel", message: "must be a mail id (a string), not a number" },
          { field: "cancel", message: "given more than once" },
          { field: "x\\u000ay", message: 'unknown key; a cancel file is exactly {"cancel": "<id>"}' },
        ],
      }),
    );
  });
});
