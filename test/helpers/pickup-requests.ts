// Generated replay and cancel files, for the unit test of pickupRequestOf and for the binary:
// well-formed ones, and well-formed ones with one mutation that must get them refused (an
// unknown key, a key repeated with a valid value, a wrong type, or the other action too),
// with the key the refusal must name. Members are [key, value] pairs so repeats survive.
import fc from "fast-check";

export type Members = [string, unknown][];

export const ulidPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The file's text, repeated keys included (JSON.stringify of an object would merge them). */
export const membersText = (members: Members): string =>
  `{${members.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(",")}}`;

/** A well-formed replay (recipients drawn from `address`, or left out) or cancel, in either member order. */
export function wellFormedAction(id: fc.Arbitrary<string>, address: fc.Arbitrary<string>): fc.Arbitrary<Members> {
  return fc.oneof(
    fc
      .tuple(id, fc.option(fc.array(address, { minLength: 1, maxLength: 4 }), { nil: undefined }), fc.boolean())
      .map(([mail, recipients, reversed]) => {
        const members: Members = [["replay", mail]];
        if (recipients) members.push(["recipients", recipients]);
        return reversed ? members.reverse() : members;
      }),
    id.map((mail): Members => [["cancel", mail]]),
  );
}

const insertAt = <T>(list: T[], at: number, item: T): T[] => {
  const i = at % (list.length + 1);
  return [...list.slice(0, i), item, ...list.slice(i)];
};

const notString = fc.jsonValue().filter((v) => typeof v !== "string");
const badRecipients = fc.oneof(
  fc.jsonValue().filter((v) => !Array.isArray(v)),
  fc.constant([]),
  fc
    .tuple(fc.array(fc.emailAddress(), { maxLength: 3 }), fc.oneof(notString, fc.constantFrom("", "  ")), fc.nat())
    .map(([good, bad, at]) => insertAt<unknown>(good, at, bad)),
);

/** How a key shows in a reason: control characters escaped. */
export const shownKey = (key: string): string =>
  key.replace(/[\0-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** A well-formed file with one mutation that makes it invalid, and the key its refusal must name. */
export function mutatedAction(
  id: fc.Arbitrary<string>,
  address: fc.Arbitrary<string>,
): fc.Arbitrary<{ members: Members; named: string }> {
  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant("unknown" as const),
      key: fc.string({ maxLength: 20 }).filter((k) => !["replay", "cancel", "recipients"].includes(k)),
      value: fc.jsonValue(),
    }),
    // a repeat with a valid value, so only the repeat itself can be what is refused
    fc.record({
      kind: fc.constant("repeat" as const),
      id,
      recipients: fc.array(address, { minLength: 1, maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant("wrong-id" as const),
      value: fc.oneof(
        notString,
        fc.string({ maxLength: 30 }).filter((s) => !ulidPattern.test(s)),
      ),
    }),
    fc.record({ kind: fc.constant("wrong-recipients" as const), value: badRecipients }),
    fc.record({ kind: fc.constant("both" as const), id }),
  );
  return fc.tuple(wellFormedAction(id, address), mutation, fc.nat()).map(([members, change, at]) => {
    const action = members.some(([k]) => k === "cancel") ? "cancel" : "replay";
    switch (change.kind) {
      case "unknown":
        return { members: insertAt(members, at, [change.key, change.value]), named: shownKey(change.key) };
      case "repeat": {
        const [key] = members[at % members.length]!;
        return {
          members: insertAt(members, at, [key, key === "recipients" ? change.recipients : change.id]),
          named: key,
        };
      }
      case "wrong-id":
        return {
          members: members.map(([k, v]): [string, unknown] => [k, k === action ? change.value : v]),
          named: action,
        };
      case "wrong-recipients":
        return {
          members:
            action === "cancel"
              ? insertAt(members, at, ["recipients", change.value])
              : [...members.filter(([k]) => k !== "recipients"), ["recipients", change.value] as [string, unknown]],
          named: "recipients",
        };
      case "both":
        return {
          members: insertAt(members, at, [action === "cancel" ? "replay" : "cancel", change.id]),
          named: "cancel",
        };
    }
  });
}
