import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FieldError } from "../errors.js";
import {
  headerNameProblem,
  headerValueProblem,
  maxHeaderValueBytes,
  parseSendAt,
  readMailExtras,
} from "./mail-extras.js";

const now = Date.parse("2026-12-01T12:00:00Z");
const policy = { maxScheduleDays: 30, now: () => now };

function extras(fields: Record<string, unknown>) {
  const errors: FieldError[] = [];
  const result = readMailExtras(fields, policy, errors);
  return { result, fields: errors.map((e) => e.field) };
}

/** What a header line may never carry: line breaks and other controls (HTAB aside). */
const hostile = /[\0-\x08\x0A-\x1F\x7F-\x9F]/;

describe("headers", () => {
  it("takes X-* and the named headers, in any case", () => {
    const headers = {
      "X-Campaign": "winter",
      "list-unsubscribe": "<https://example.com/u/1>",
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      "In-Reply-To": "<a@example.com>",
      References: "<a@example.com> <b@example.com>",
      "Auto-Submitted": "auto-generated",
    };
    expect(extras({ headers })).toEqual({ result: { headers }, fields: [] });
    // in a form: a JSON string
    expect(extras({ headers: JSON.stringify(headers) }).result.headers).toEqual(headers);
  });

  it("refuses other headers, each named", () => {
    const { fields } = extras({
      headers: { From: "x@example.com", Subject: "s", Bcc: "b@example.com", "X-": "v", "X-Mailspool-Id": "1" },
    });
    expect(fields).toEqual(["headers.From", "headers.Subject", "headers.Bcc", "headers.X-", "headers.X-Mailspool-Id"]);
  });

  it("refuses a named header that breaks its own syntax", () => {
    const { fields } = extras({
      headers: {
        "In-Reply-To": "parent@example.com",
        References: "<a@example.com>, <b@example.com>",
        "List-Unsubscribe": "https://example.com/u",
        "List-Unsubscribe-Post": "yes",
        "Auto-Submitted": "sure",
      },
    });
    expect(fields).toEqual([
      "headers.In-Reply-To",
      "headers.References",
      "headers.List-Unsubscribe",
      "headers.List-Unsubscribe-Post",
      "headers.Auto-Submitted",
    ]);
  });

  it("refuses a name twice (case ignored), too many, and what is not an object of strings", () => {
    expect(extras({ headers: { "X-A": "1", "x-a": "2" } }).fields).toEqual(["headers.x-a"]);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, "v"]));
    expect(extras({ headers: many }).fields).toEqual(["headers"]);
    expect(extras({ headers: ["X-A"] }).fields).toEqual(["headers"]);
    expect(extras({ headers: "{not json" }).fields).toEqual(["headers"]);
    expect(extras({ headers: { "X-A": 1 } }).fields).toEqual(["headers.X-A"]);
    expect(extras({ headers: { "X-A": "x".repeat(maxHeaderValueBytes + 1) } }).fields).toEqual(["headers.X-A"]);
    expect(extras({ headers: { "X-A": "é".repeat(500) } }).fields).toEqual(["headers.X-A"]);
  });

  it("never lets a value with a line break or control through (property)", () => {
    const value = fc
      .array(fc.oneof(fc.string(), fc.constantFrom("\r", "\n", "\r\n", "\0", "\x1b", "\x7f", "\x85", "\t")), {
        maxLength: 8,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(value, (v) => {
        const problem = headerValueProblem(v);
        if (hostile.test(v) || v.trim() === "" || Buffer.byteLength(v) > maxHeaderValueBytes)
          expect(problem).not.toBeNull();
        else expect(problem).toBeNull();
        const { result, fields } = extras({ headers: { "X-Test": v } });
        if (problem) expect(fields).toEqual(["headers.X-Test"]);
        for (const sent of Object.values(result.headers ?? {})) expect(sent).not.toMatch(hostile);
      }),
      { numRuns: 500 },
    );
  });

  it("takes only token names from the allowlist (property)", () => {
    const name = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 20 }).map((s) => `X-${s}`),
      fc.constantFrom("X-A:B", "X-A B", "X-A\r\nBcc", "X-\u00e9", "x-ok", "References", "To", "X-A_B"),
    );
    fc.assert(
      fc.property(name, (n) => {
        const problem = headerNameProblem(n);
        const token = /^[A-Za-z0-9][A-Za-z0-9-]{0,75}$/.test(n);
        const allowed =
          /^x-./i.test(n) || /^(list-unsubscribe(-post)?|in-reply-to|references|auto-submitted)$/i.test(n);
        expect(problem === null).toBe(token && allowed && !/^x-mailspool-/i.test(n));
      }),
      { numRuns: 500 },
    );
  });
});

describe("tags and metadata", () => {
  it("takes a list (or a comma-separated string), dropping repeats", () => {
    expect(extras({ tags: ["welcome", "tier:gold", "welcome"] }).result.tags).toEqual(["welcome", "tier:gold"]);
    expect(extras({ tags: "a, b,c" }).result.tags).toEqual(["a", "b", "c"]);
  });

  it("refuses bad tags by position, and too many", () => {
    expect(extras({ tags: ["ok", "has space", "", "x".repeat(65), 3] }).fields).toEqual([
      "tags[1]",
      "tags[2]",
      "tags[3]",
      "tags[4]",
    ]);
    expect(extras({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }).fields).toEqual(["tags"]);
    expect(extras({ tags: { a: 1 } }).fields).toEqual(["tags"]);
  });

  it("takes a small string map; refuses bad keys and values by key", () => {
    expect(extras({ metadata: { user_id: "42", "order.ref": "A-1" } }).result.metadata).toEqual({
      user_id: "42",
      "order.ref": "A-1",
    });
    expect(extras({ metadata: '{"a":"b"}' }).result.metadata).toEqual({ a: "b" });
    expect(extras({ metadata: { "bad key": "v", n: 1, long: "x".repeat(501), ctl: "a\nb" } }).fields).toEqual([
      "metadata.bad key",
      "metadata.n",
      "metadata.long",
      "metadata.ctl",
    ]);
    expect(
      extras({ metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])) }).fields,
    ).toEqual(["metadata"]);
  });

  it("keeps __proto__ a plain key", () => {
    const { result } = extras({ metadata: JSON.parse('{"__proto__":"x"}') });
    expect(Object.getPrototypeOf(result.metadata)).toBe(Object.prototype);
    expect(Object.keys(result.metadata!)).toEqual(["__proto__"]);
  });
});

describe("send_at", () => {
  const parse = (value: unknown) => {
    const errors: FieldError[] = [];
    const at = parseSendAt(value, policy, errors);
    return { at, error: errors[0]?.message };
  };

  it("takes RFC 3339 with an offset, stored in UTC", () => {
    expect(parse("2026-12-24T09:00:00+01:00")).toEqual({ at: "2026-12-24T08:00:00.000Z", error: undefined });
    expect(parse("2026-12-02t12:00:00.5z").at).toBe("2026-12-02T12:00:00.500Z");
  });

  it("refuses no offset, no time, impossible dates and non-strings", () => {
    for (const value of [
      "2026-12-24T09:00:00",
      "2026-12-24",
      "2026-02-30T09:00:00Z",
      "2026-12-24T25:00:00Z",
      17,
      "tomorrow",
    ])
      expect(parse(value).error).toBeDefined();
  });

  it("sends a time now or just past at once; refuses one further back or beyond maxScheduleDays", () => {
    expect(parse(new Date(now).toISOString())).toEqual({ at: undefined, error: undefined });
    expect(parse(new Date(now - 4 * 60_000).toISOString())).toEqual({ at: undefined, error: undefined });
    expect(parse(new Date(now - 6 * 60_000).toISOString()).error).toMatch(/in the past/);
    expect(parse(new Date(now + 30 * 86_400_000).toISOString()).at).toBeDefined();
    expect(parse(new Date(now + 30 * 86_400_000 + 1000).toISOString()).error).toMatch(/maxScheduleDays/);
  });
});
