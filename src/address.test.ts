import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalOrSelf, needsSmtpUtf8, parseAddress, splitAddressList } from "./address.js";

const canonical = (input: string) => {
  const parsed = parseAddress(input);
  if (!parsed.ok) throw new Error(`${input}: ${parsed.reason}`);
  return parsed.address;
};
const refusal = (input: string) => {
  const parsed = parseAddress(input);
  return parsed.ok ? `accepted as ${parsed.address}` : parsed.reason;
};

describe("parseAddress", () => {
  it.each([
    ["bob@EXAMPLE.com", "bob@example.com"],
    ["Bob.Smith+tag@Example.COM", "Bob.Smith+tag@example.com"],
    ["  ann@example.com ", "ann@example.com"],
    ["用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"],
    ["user@xn--fsqu00a.xn--4rr70v", "user@xn--fsqu00a.xn--4rr70v"],
    ["user@XN--FSQU00A.XN--4RR70V", "user@xn--fsqu00a.xn--4rr70v"],
    ["user@Ｅｘａｍｐｌｅ。com", "user@example.com"],
    ["user@bücher.de", "user@xn--bcher-kva.de"],
    ['"bob"@example.com', "bob@example.com"],
    ['"john doe"@example.com', '"john doe"@example.com'],
    ['"a,b"@example.com', '"a,b"@example.com'],
    ['"a\\"b"@example.com', '"a\\"b"@example.com'],
    ['"a\\b"@example.com', "ab@example.com"],
    ["o'brien@example.com", "o'brien@example.com"],
    ["user@[192.0.2.1]", "user@[192.0.2.1]"],
    ["user@[ipv6:2001:DB8::1]", "user@[IPv6:2001:db8::1]"],
    ["jose\u0301@example.com", "jos\u00e9@example.com"],
  ])("%s → %s", (input, expected) => {
    expect(canonical(input)).toBe(expected);
  });

  it.each([
    ["", "empty"],
    ["bob", "needs a local part"],
    ["@example.com", "needs a local part"],
    ["bob@", "needs a local part"],
    ["bob@localhost", "at least two labels"],
    ["bob@example..com", "empty label"],
    ["bob@-example.com", "inner hyphens"],
    ["bob@example.1a", "last label"],
    ["bob@ex_ample.com", "inner hyphens"],
    ["bob@example.com.", "empty label"],
    ["bob@xn--zz.com", "not a valid"],
    ["bob smith@example.com", "needs quoting"],
    ["bob..smith@example.com", "empty dot-separated"],
    [".bob@example.com", "empty dot-separated"],
    ["bob@exa mple.com", "not a valid"],
    ["bob\r\n@example.com", "control"],
    ["bob\u202e@example.com", "control"],
    ['"unterminated@example.com', "unterminated quote"],
    ['""@example.com', "empty"],
    ['"a<b>"@example.com', "< or >"],
    ["bob@[300.1.1.1]", "address literal"],
    [`${"a".repeat(65)}@example.com`, "longer than 64 octets"],
    [`${"é".repeat(33)}@example.com`, "longer than 64 octets"],
    [`bob@${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}.com`, "longer than 255 octets"],
    [`${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.com`, "longer than 254 octets"],
  ])("refuses %j (%s)", (input, reason) => {
    expect(refusal(input)).toContain(reason);
  });

  it("keeps the local part's case and tells when it needs SMTPUTF8", () => {
    expect(canonical("BoB@example.com")).toBe("BoB@example.com");
    expect(needsSmtpUtf8(canonical("用户@例子.广告"))).toBe(true);
    expect(needsSmtpUtf8(canonical("user@例子.广告"))).toBe(false);
  });
});

const atext = fc.constantFrom(..."abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-".split(""), "ü", "用", "й");
const atom = fc.array(atext, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(""));
const localPart = fc.array(atom, { minLength: 1, maxLength: 3 }).map((atoms) => atoms.join("."));
const domainLabel = fc.constantFrom("example", "mail", "bücher", "例子", "xn--fsqu00a", "a-b", "x1");
const tld = fc.constantFrom("com", "org", "de", "广告", "xn--4rr70v", "io");
const domain = fc
  .tuple(fc.array(domainLabel, { minLength: 1, maxLength: 2 }), tld)
  .map(([labels, top]) => [...labels, top].join("."));
const randomCase = (text: string, flips: boolean[]) =>
  [...text].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join("");

describe("canonical form (properties)", () => {
  it("is a fixed point: the canonical form parses to itself", () => {
    fc.assert(
      fc.property(localPart, domain, (local, dom) => {
        const first = canonical(`${local}@${dom}`);
        expect(canonical(first)).toBe(first);
      }),
    );
  });

  it("ignores the domain's case and script (U-label or A-label), never the local part's", () => {
    fc.assert(
      fc.property(localPart, domain, fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (local, dom, flips) => {
        const base = canonical(`${local}@${dom}`);
        expect(canonical(`${local}@${randomCase(dom, flips)}`)).toBe(base);
        expect(canonical(`${local}@${base.slice(base.lastIndexOf("@") + 1)}`)).toBe(base);
        expect(base.slice(0, base.lastIndexOf("@"))).toBe(local);
      }),
    );
  });

  it("never accepts an address that breaks an SMTP path: no CR, LF, NUL, < or >, at most 254 octets", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
        const parsed = parseAddress(text);
        if (!parsed.ok) return;
        expect(parsed.address).not.toMatch(/[\r\n\0<>]/);
        expect(Buffer.byteLength(parsed.address)).toBeLessThanOrEqual(254);
        expect(canonical(parsed.address)).toBe(parsed.address);
      }),
    );
  });

  it("splits lists at commas outside quotes only", () => {
    expect(splitAddressList('a@x.com, "b,c"@x.com ,d@x.com')).toEqual(["a@x.com", ' "b,c"@x.com ', "d@x.com"]);
    expect(canonicalOrSelf("not an address")).toBe("not an address");
  });
});
