// The Authorization header forms: one Bearer token is read; every other form is a 401
// that says what is wrong and never echoes what was sent.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { bearerToken } from "./bearer-header.js";

const tokenChars = fc.stringMatching(/^[\x21-\x7e]{1,40}$/);
const blanks = fc.stringMatching(/^[ \t]{1,3}$/);
const bearerWord = fc.constantFrom("Bearer", "bearer", "BEARER", "bEaReR");

function refusal(header: string): MailspoolError {
  try {
    bearerToken(header);
  } catch (error) {
    expect(error).toBeInstanceOf(MailspoolError);
    return error as MailspoolError;
  }
  throw new Error(`expected a refusal for ${JSON.stringify(header)}`);
}

describe("bearerToken", () => {
  it("reads exactly one token after the scheme, in any case, whatever the spacing", () => {
    fc.assert(
      fc.property(bearerWord, blanks, tokenChars, blanks, (scheme, gap, token, tail) => {
        expect(bearerToken(`${scheme}${gap}${token}${tail}`)).toBe(token);
      }),
    );
  });

  it("treats a missing or blank header as no token", () => {
    for (const header of [undefined, "", "  ", "\t"]) expect(bearerToken(header)).toBeUndefined();
  });

  it('answers "malformed Authorization header" to Bearer with several words or with none', () => {
    expect(refusal("Bearer a b")).toMatchObject({ code: "unauthorized", message: "malformed Authorization header" });
    fc.assert(
      fc.property(
        bearerWord,
        fc.array(fc.tuple(blanks, tokenChars), { minLength: 2, maxLength: 4 }),
        (scheme, words) => {
          const header = `${scheme}${words.map(([gap, word]) => gap + word).join("")}`;
          const error = refusal(header);
          expect(error.status).toBe(401);
          expect(error.message).toBe("malformed Authorization header");
          expect(error.errors).toEqual([{ field: "Authorization", message: expect.stringContaining("one token") }]);
        },
      ),
    );
    for (const header of ["Bearer", "bearer  ", "Bearer\t"])
      expect(refusal(header)).toMatchObject({
        message: "malformed Authorization header",
        errors: [{ field: "Authorization", message: 'no token after "Bearer"' }],
      });
  });

  it("refuses any other scheme, or a token sent without a scheme, without echoing it", () => {
    fc.assert(
      fc.property(
        tokenChars.filter((s) => s.toLowerCase() !== "bearer"),
        fc.option(fc.tuple(blanks, tokenChars)),
        (first, rest) => {
          const header = rest ? `${first}${rest[0]}${rest[1]}` : first;
          const error = refusal(header);
          expect(error.status).toBe(401);
          expect(error.message).toBe("Authorization scheme must be Bearer");
          expect(error.errors).toBeUndefined();
        },
      ),
    );
  });
});
