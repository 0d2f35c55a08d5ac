import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { pickupRequestOf } from "./pickup-request.js";

const id = "01M846C4M4R0YB5DS6EVPT1JM3";
const mailId = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/);
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

/** A well-formed replay or cancel file, its members in a random order. */
const wellFormed = fc.oneof(
  fc
    .tuple(mailId, fc.option(fc.array(address, { minLength: 1, maxLength: 4 }), { nil: undefined }), fc.boolean())
    .map(([mail, recipients, reversed]) => {
      const members: [string, unknown][] = [["replay", mail]];
      if (recipients) members.push(["recipients", recipients]);
      return reversed ? members.reverse() : members;
    }),
  mailId.map((mail): [string, unknown][] => [["cancel", mail]]),
);

const insertAt = <T>(list: T[], at: number, item: T) => [
  ...list.slice(0, at % (list.length + 1)),
  item,
  ...list.slice(at % (list.length + 1)),
];

/** Any JSON value that is not a string. */
const notString = fc.jsonValue().filter((v) => typeof v !== "string");
const badRecipients = fc.oneof(
  fc.jsonValue().filter((v) => !Array.isArray(v)),
  fc.constant([]),
  fc
    .tuple(fc.array(address, { maxLength: 3 }), fc.oneof(notString, fc.constantFrom("", "  ")), fc.nat())
    .map(([good, bad, at]) => insertAt<unknown>(good, at, bad)),
);

describe("pickupRequestOf", () => {
  it("reads a well-formed replay or cancel file as written", () => {
    fc.assert(
      fc.property(wellFormed, (members) => {
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
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("unknown" as const),
        key: fc.string({ maxLength: 20 }).filter((k) => !["replay", "cancel", "recipients"].includes(k)),
        value: fc.jsonValue(),
      }),
      // a repeat with a valid value, so only the repeat itself can be what is refused
      fc.record({
        kind: fc.constant("repeat" as const),
        id: mailId,
        recipients: fc.array(address, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant("wrong-id" as const), value: fc.oneof(notString, fc.string({ maxLength: 30 })) }),
      fc.record({ kind: fc.constant("wrong-recipients" as const), value: badRecipients }),
      fc.record({ kind: fc.constant("both" as const), value: mailId }),
    );
    fc.assert(
      fc.property(wellFormed, mutation, fc.nat(), (members, change, at) => {
        const action = members.some(([k]) => k === "cancel") ? "cancel" : "replay";
        let mutated: [string, unknown][];
        let named: string;
        switch (change.kind) {
          case "unknown":
            mutated = insertAt(members, at, [change.key, change.value]);
            named = change.key.replace(/[\0-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
            break;
          case "repeat": {
            const [key] = members[at % members.length]!;
            mutated = insertAt(members, at, [key, key === "recipients" ? change.recipients : change.id]);
            named = key;
            break;
          }
          case "wrong-id":
            fc.pre(typeof change.value !== "string" || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(change.value));
            mutated = members.map(([k, v]) => [k, k === action ? change.value : v]);
            named = action;
            break;
          case "wrong-recipients":
            if (action === "cancel") mutated = insertAt(members, at, ["recipients", change.value]);
            else mutated = [...members.filter(([k]) => k !== "recipients"), ["recipients", change.value]];
            named = "recipients";
            break;
          case "both":
            mutated = insertAt(members, at, [action === "cancel" ? "replay" : "cancel", change.value]);
            named = "cancel";
            break;
        }
        const fields = refusedFields(mutated);
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
