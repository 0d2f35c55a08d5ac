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

describe("batch files", () => {
  const uniqueActions = fc
    .uniqueArray(fc.tuple(mailId, fc.nat()), { minLength: 1, maxLength: 20, selector: ([mail]) => mail })
    .chain((pairs) =>
      fc.tuple(...pairs.map(([mail]) => wellFormedAction(fc.constant(mail), address))).map((items) => items),
    );
  const asObject = (members: [string, unknown][]) => Object.fromEntries(members);

  it("reads every item of a well-formed batch as the single file it would be", () => {
    fc.assert(
      fc.property(uniqueActions, (items) => {
        const request = pickupRequestOf([["requests", items.map(asObject)]]);
        expect(request).toEqual({ kind: "batch", requests: items.map((members) => pickupRequestOf(members)) });
      }),
    );
  });

  it("refuses a batch with one bad item, naming the item and its key", () => {
    fc.assert(
      fc.property(uniqueActions, mutatedAction(mailId, address), fc.nat(), (items, bad, at) => {
        // a repeated key cannot survive an object: those mutations are the single-file test's
        fc.pre(new Set(bad.members.map(([k]) => k)).size === bad.members.length);
        const where = at % (items.length + 1);
        const list = [...items.slice(0, where), bad.members, ...items.slice(where)].map(asObject);
        const fields = refusedFields([["requests", list]]);
        const named = `requests[${where}].${bad.named}`;
        expect(fields.some((f) => f === named || f.startsWith(`${named}[`) || f === `requests[${where}]`)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("names what is wrong with the list, its items and the keys around it", () => {
    expect(refusedFields([["requests", {}]])).toEqual(["requests"]);
    expect(refusedFields([["requests", []]])).toEqual(["requests"]);
    expect(refusedFields([["requests", Array.from({ length: 10_001 }, () => ({ cancel: id }))]])).toEqual(["requests"]);
    expect(refusedFields([["requests", [{ cancel: id }, "x", { title: "t" }]]])).toEqual([
      "requests[1]",
      "requests[2]",
    ]);
    expect(refusedFields([["requests", [{ cancel: id }, { replay: id }]]])).toEqual(["requests[1].replay"]);
    expect(
      refusedFields([
        ["requests", [{ cancel: id }]],
        ["replay", id],
        ["priority", 1],
      ]),
    ).toEqual(["replay", "priority"]);
    expect(refusedFields([["requests", [{ cancel: id, replay: id }]]])).toEqual(["requests[0].cancel"]);
    const many = refusedFields([["requests", Array.from({ length: 50 }, () => ({ cancel: "nope" }))]]);
    expect(many).toHaveLength(21);
    expect(many.at(-1)).toBe("requests");
  });
});
