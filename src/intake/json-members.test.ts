// jsonMembers on generated JSON: every top-level member in the order written, duplicate
// keys included, whatever the values hold (nested objects, braces and quotes in strings,
// escapes, numbers, literals) and however the text is spaced.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonMembers } from "./json-members.js";

const space = fc.constantFrom("", " ", "\n", "\t\r\n ");

describe("jsonMembers", () => {
  it("returns the members as written, duplicates and all", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b", 'q"uote', "back\\slash", "ü", "{", "}"), fc.jsonValue()), {
          maxLength: 8,
        }),
        space,
        (members, ws) => {
          const text = `${ws}{${ws}${members.map(([k, v]) => `${JSON.stringify(k)}${ws}:${ws}${JSON.stringify(v, null, ws ? 1 : 0)}`).join(`${ws},${ws}`)}${ws}}${ws}`;
          // JSON has one zero: -0 written out reads back as 0
          const expected = members.map(([k, v]) => [k, JSON.parse(JSON.stringify(v))]);
          const keys = new Set(members.map(([k]) => k));
          const got = jsonMembers(text);
          if (keys.size === members.length) expect(got).toEqual(Object.entries(JSON.parse(text)));
          else expect(got).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("is null for valid JSON that is not an object, and throws on invalid JSON", () => {
    for (const text of ["[1]", "null", '"x"', "3"]) expect(jsonMembers(text)).toBeNull();
    expect(() => jsonMembers('{"a":1,')).toThrow(SyntaxError);
    expect(jsonMembers('{"\\u0074itle":"x","title":"y"}')).toEqual([
      ["title", "x"],
      ["title", "y"],
    ]);
  });
});
