import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { parsePickupJson } from "./pickup-json.js";

// A refusal is built from fixed words and numbers only, so it cannot carry the file's text.
const refusal = /^malformed JSON: (the file is empty|not valid JSON|[a-z ]+ at line \d+, column \d+)$/;

function refusalOf(text: string): string | null {
  try {
    parsePickupJson(Buffer.from(text));
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(MailspoolError);
    expect((error as MailspoolError).status).toBe(400);
    return (error as Error).message;
  }
}

describe("parsePickupJson", () => {
  it("gives an object's members as JSON.parse reads them, with or without a byte-order mark", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (value, bom) => {
        const text = JSON.stringify(value);
        expect(parsePickupJson(Buffer.from(bom ? `\uFEFF${text}` : text))).toEqual(Object.entries(JSON.parse(text)));
      }),
    );
  });

  it("keeps a repeated member, so a repeated field meets the same rule as over HTTP", () => {
    expect(parsePickupJson(Buffer.from('{"title":"a","title":"b"}'))).toEqual([
      ["title", "a"],
      ["title", "b"],
    ]);
  });

  it("refuses valid JSON that is not an object", () => {
    for (const text of ["[]", "1", '"x"', "null"]) {
      expect(() => parsePickupJson(Buffer.from(text))).toThrow(
        expect.objectContaining({ errors: [{ field: "body", message: "a pickup file must hold a JSON object" }] }),
      );
    }
  });

  it("refuses malformed text by position and kind, never quoting it", () => {
    const broken = fc.oneof(
      fc.string(),
      fc
        .tuple(fc.json(), fc.integer({ min: 0, max: 200 }), fc.string({ minLength: 1, maxLength: 5 }))
        .map(([json, at, junk]) => json.slice(0, at % (json.length + 1)) + junk + json.slice(at % (json.length + 1))),
    );
    fc.assert(
      fc.property(broken, (text) => {
        let valid = true;
        try {
          JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text);
        } catch {
          valid = false;
        }
        fc.pre(!valid);
        expect(refusalOf(text)).toMatch(refusal);
      }),
      { numRuns: 500 },
    );
  });

  it("names the line and column", () => {
    expect(refusalOf('{\n  "title": "secret-value",\n  "receiver": secret\n}')).toBe(
      "malformed JSON: invalid symbol at line 3, column 15",
    );
    expect(refusalOf("")).toBe("malformed JSON: the file is empty");
    expect(refusalOf('{"a":1')).toBe("malformed JSON: close brace expected at line 1, column 7");
  });
});
