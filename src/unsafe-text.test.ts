// The one class of characters refused in addresses and file names: every control, C1,
// bidi-control and invisible formatting character (and lone surrogates) is in it; letters of
// any script, spaces, punctuation, emoji and the zero-width joiners some scripts need are not.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unsafeNameChar } from "../test/helpers/multipart-model.js";
import { parseAddress } from "./address.js";
import { unsafeText } from "./unsafe-text.js";

describe("unsafeText", () => {
  it("matches the class wherever it stands, in addresses and file names alike", () => {
    fc.assert(
      fc.property(
        fc.oneof(unsafeNameChar, fc.constantFrom("\r", "\n", "\ud800", "\udc00")),
        fc.string(),
        fc.nat(),
        (char, text, at) => {
          const clean = text.replace(new RegExp(unsafeText.source, "gu"), "");
          const i = at % (clean.length + 1);
          expect(unsafeText.test(clean.slice(0, i) + char + clean.slice(i))).toBe(true);
          expect(parseAddress(`a${char}b@example.com`).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves ordinary text of every script alone", () => {
    for (const text of ["报告 résumé.pdf", "Ωmega (1).txt", "ملف.txt", "क्षि", "👩‍💻.png", "a\u200cb\u200d", "a b-c_d"])
      expect(unsafeText.test(text)).toBe(false);
  });
});
