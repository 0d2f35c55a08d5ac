// list()'s recipient and subject filters (spool ls --to/--subject, GET /api/email?recipient=):
// any spelling of an address finds its mails, old non-canonical records included; subjects
// match case-insensitively; every filter applies before the limit (generated mail sets
// against a plain reference).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalOrSelf } from "../address.js";
import type { Mail } from "../types.js";
import { MailIndex, type ListQuery, type MailEntry } from "./mail-index.js";
import type { AcceptedRecord } from "./record.js";

const at = (offset: number) => ({ segment: 1, offset, length: 100 });

function accepted(id: string, n: number, subject: string, to: string[], cc: string[] = []): AcceptedRecord {
  const mail: Mail = {
    subject,
    html: "<p>x</p>",
    to: to.map((address) => ({ address })),
    cc: cc.map((address) => ({ address })),
    bcc: [],
    attachments: [],
    messageId: `<${id}@example.com>`,
  };
  const ts = new Date(Date.UTC(2025, 0, 15, 9, 0, n)).toISOString();
  return { v: 1, type: "accepted", id, ts, client: "10.0.0.7", mail };
}

const ids = (entries: MailEntry[]) => entries.map((e) => e.id);

// [as written at intake (canonical), other spellings of the same domain]
const domains: [string, string[]][] = [
  ["xn--bcher-kva.de", ["bücher.de", "BÜCHER.DE", "Bücher.De", "XN--BCHER-KVA.DE"]],
  ["example.com", ["EXAMPLE.COM", "Example.Com"]],
  ["xn--mnchen-3ya.example", ["münchen.example", "MÜNCHEN.EXAMPLE"]],
];

describe("list({ recipient })", () => {
  it("finds a mail by any spelling of its recipient's domain and a quoted local part, to or cc", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...domains),
        fc.stringMatching(/^[a-z][a-z0-9.]{0,8}[a-z0-9]$/).filter((l) => !l.includes("..")),
        fc.nat(),
        fc.boolean(),
        fc.boolean(),
        ([canonical, spellings], local, pick, quoted, asCc) => {
          const index = new MailIndex();
          const address = `${local}@${canonical}`;
          index.apply(accepted("other", 0, "s", [`someone@${canonical}`]), at(0));
          index.apply(accepted("m1", 1, "s", asCc ? ["x@y.test"] : [address], asCc ? [address] : []), at(100));
          const spelled = `${quoted ? `"${local}"` : local}@${spellings[pick % spellings.length]}`;
          expect(ids(index.list({ recipient: spelled, limit: 10 }))).toEqual(["m1"]);
        },
      ),
    );
  });

  it("matches records written before addresses were canonical, and keeps the local part's case", () => {
    const index = new MailIndex();
    index.apply(accepted("old", 0, "s", ["Bob@Bücher.DE"]), at(0));
    index.apply(accepted("new", 1, "s", ["bob@xn--bcher-kva.de"]), at(100));
    expect(ids(index.list({ recipient: "Bob@xn--bcher-kva.de", limit: 10 }))).toEqual(["old"]);
    expect(ids(index.list({ recipient: "bob@BÜCHER.de", limit: 10 }))).toEqual(["new"]);
    expect(ids(index.list({ recipient: "nobody@bücher.de", limit: 10 }))).toEqual([]);
  });
});

describe("list({ subject })", () => {
  it("is a case-insensitive substring, Unicode and its normal forms included", () => {
    const index = new MailIndex();
    index.apply(accepted("a", 0, "Invoice 42 for März", ["a@x.test"]), at(0));
    index.apply(accepted("b", 1, "ÄRGER im Büro", ["a@x.test"]), at(100));
    index.apply(accepted("c", 2, "Newsletter", ["a@x.test"]), at(200));
    expect(ids(index.list({ subject: "INVOICE", limit: 10 }))).toEqual(["a"]);
    expect(ids(index.list({ subject: "märz", limit: 10 }))).toEqual(["a"]);
    expect(ids(index.list({ subject: "a\u0308rger", limit: 10 }))).toEqual(["b"]);
    expect(ids(index.list({ subject: "e", limit: 10 }))).toEqual(["c", "b", "a"]);
    expect(ids(index.list({ subject: "nothing", limit: 10 }))).toEqual([]);
  });
});

describe("filters and the limit", () => {
  const recipients = ["a@x.test", "b@x.test", "c@y.test"];
  const subjects = ["Alpha report", "beta", "ALPHA and beta", "gamma"];
  const mailArb = fc.record({
    subject: fc.constantFrom(...subjects),
    to: fc.subarray(recipients, { minLength: 1 }),
    state: fc.constantFrom("queued" as const, "sent" as const),
  });

  it("every filter applies before the limit: the page is the first `limit` of all matches (generated)", () => {
    fc.assert(
      fc.property(
        fc.array(mailArb, { maxLength: 25 }),
        fc.record({
          recipient: fc.option(fc.constantFrom(...recipients, "A@X.TEST"), { nil: undefined }),
          subject: fc.option(fc.constantFrom("alpha", "BETA", "zeta"), { nil: undefined }),
          state: fc.option(fc.constantFrom("queued" as const, "sent" as const), { nil: undefined }),
        }),
        fc.integer({ min: 1, max: 6 }),
        (mails, filters, limit) => {
          const index = new MailIndex();
          mails.forEach((m, i) => {
            index.apply(accepted(`m${i}`, i, m.subject, m.to), at(i * 100));
            if (m.state === "sent")
              index.apply(
                { v: 1, type: "attempt", id: `m${i}`, ts: "2025-01-16T00:00:00.000Z", attempt: 1, state: "sent" },
                at(i * 100 + 50),
              );
          });
          const query: ListQuery = { ...filters, limit };
          const reference = mails
            .map((m, i) => ({ ...m, id: `m${i}` }))
            .reverse()
            .filter((m) => !filters.state || m.state === filters.state)
            .filter((m) => !filters.subject || m.subject.toLowerCase().includes(filters.subject.toLowerCase()))
            .filter((m) => !filters.recipient || m.to.includes(canonicalOrSelf(filters.recipient)))
            .map((m) => m.id);
          expect(ids(index.list(query))).toEqual(reference.slice(0, limit));
        },
      ),
    );
  });
});
