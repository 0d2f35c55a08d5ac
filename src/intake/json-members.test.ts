// jsonMembers on generated JSON: every top-level member in the order written, duplicate
// keys included, whatever the values hold (nested objects, braces and quotes in strings,
// escapes, numbers, literals) and however the text is spaced; and a key repeated inside a
// nested object, at any depth, is a 400 naming its path — the first one in the text.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { jsonElements, jsonMembers } from "./json-members.js";

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

  it("refuses a key repeated inside a nested object by its path, the first in the text", () => {
    type Tree = { object: [string, Tree][] } | { array: Tree[] } | { leaf: unknown };
    // "\u0061" is how a client may write "a": equal keys, however they are spelled
    const key = fc.constantFrom("a", "b", "\\u0061", 'q\\"', "{", "]");
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.record({ leaf: fc.oneof(fc.string(), fc.integer(), fc.constantFrom(true, null, 'a\\"}]')) }),
        fc.record({ object: fc.array(fc.tuple(key, tie("tree")), { maxLength: 4 }) }),
        fc.record({ array: fc.array(tie("tree"), { maxLength: 4 }) }),
      ),
    }));
    const render = (t: Tree, ws: string): string =>
      "leaf" in t
        ? JSON.stringify(t.leaf)
        : "array" in t
          ? `[${ws}${t.array.map((v) => render(v, ws)).join(`${ws},${ws}`)}${ws}]`
          : `{${ws}${t.object.map(([k, v]) => `"${k}"${ws}:${ws}${render(v, ws)}`).join(`${ws},${ws}`)}${ws}}`;
    /** The path of the first repeated key in document order, or null. */
    const firstRepeat = (t: Tree, path: string): string | null => {
      if ("leaf" in t) return null;
      if ("array" in t) {
        for (const [i, v] of t.array.entries()) {
          const found = firstRepeat(v, `${path}[${i}]`);
          if (found) return found;
        }
        return null;
      }
      const seen = new Set<string>();
      for (const [k, v] of t.object) {
        const name = JSON.parse(`"${k}"`) as string;
        if (seen.has(name)) return `${path}.${name}`;
        seen.add(name);
        const found = firstRepeat(v, `${path}.${name}`);
        if (found) return found;
      }
      return null;
    };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("attachment", "x"), tree), { maxLength: 4 }),
        space,
        (members, ws) => {
          const text = `{${ws}${members.map(([k, v]) => `"${k}"${ws}:${ws}${render(v, ws)}`).join(`${ws},${ws}`)}${ws}}`;
          const expected = members.reduce<string | null>((found, [k, v]) => found ?? firstRepeat(v, k), null);
          if (expected === null) {
            expect(jsonMembers(text)).toEqual(members.map(([k, v]) => [k, JSON.parse(render(v, ""))]));
            return;
          }
          try {
            jsonMembers(text);
            expect.unreachable(`${text} has ${expected} twice`);
          } catch (error) {
            expect(error).toBeInstanceOf(MailspoolError);
            expect((error as MailspoolError).errors).toEqual([{ field: expected, message: expect.any(String) }]);
          }
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
    expect(() => jsonMembers('{"attachment":[{"filename":"a","content":"","filename":"b"}]}')).toThrow(
      expect.objectContaining({ errors: [{ field: "attachment[0].filename", message: expect.any(String) }] }),
    );
  });
});

describe("jsonElements", () => {
  /** What jsonMembers makes of one element's text: its members, or its problem. */
  const alone = (text: string) => {
    try {
      return jsonMembers(text) ?? { field: "", message: expect.any(String) };
    } catch (error) {
      return { ...(error as MailspoolError).errors![0]!, message: expect.any(String) };
    }
  };

  it("reads each element of an array as jsonMembers reads it alone, its problem included", () => {
    const key = fc.constantFrom("a", "b", "\\u0061", "{", "]");
    const element = fc.oneof(
      fc
        .array(
          fc.tuple(
            key,
            fc.oneof(
              fc.jsonValue().map((json) => ({ json })),
              fc.array(fc.tuple(key, fc.jsonValue()), { maxLength: 3 }).map((pairs) => ({ pairs })),
            ),
          ),
          { maxLength: 5 },
        )
        .map((members) => {
          // a member whose value is a list of pairs is written as an object: a key may repeat in it (the keys
          // are written as they are, escapes included; a JSON value that happens to look like pairs is JSON)
          const value = (v: { json: unknown } | { pairs: [string, unknown][] }) =>
            "pairs" in v
              ? `{${v.pairs.map(([k, x]) => `"${k}":${JSON.stringify(x)}`).join(",")}}`
              : JSON.stringify(v.json);
          return `{${members.map(([k, v]) => `"${k}":${value(v)}`).join(",")}}`;
        }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(fc.array(element, { maxLength: 6 }), space, (elements, ws) => {
        const got = jsonElements(`${ws}[${ws}${elements.join(`${ws},${ws}`)}${ws}]${ws}`);
        expect(got).toEqual(elements.map(alone));
      }),
      { numRuns: 500 },
    );
  });

  it("is null for valid JSON that is not an array", () => {
    for (const text of ['{"a":1}', "null", '"x"', "3"]) expect(jsonElements(text)).toBeNull();
    expect(jsonElements("[]")).toEqual([]);
    expect(() => jsonElements("[{}")).toThrow(SyntaxError);
  });
});
