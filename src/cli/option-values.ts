// The parsers of CLI option values shared by the commands: a refused value is commander's
// InvalidArgumentError, which the CLI answers as a usage error (exit 2, with the usage line).
import { InvalidArgumentError } from "commander";
import { parseAddress } from "../address.js";
import { parseSince } from "../duration.js";
import { mailStates, type MailState } from "../types.js";

export function sinceArg(value: string): Date {
  const since = parseSince(value);
  if (!since) throw new InvalidArgumentError("a duration like 90s, 30m, 2h, 7d or an ISO date");
  return since;
}

/** A mail address, in its canonical form. */
export function addressArg(value: string): string {
  const parsed = parseAddress(value);
  if (!parsed.ok) throw new InvalidArgumentError(`a mail address: ${parsed.reason}`);
  return parsed.address;
}

/** One of `allowed` (every mail state by default); `note` says why others are not. */
export const stateArg =
  (allowed: readonly MailState[] = mailStates, note = "") =>
  (value: string): MailState => {
    if (!(allowed as readonly string[]).includes(value))
      throw new InvalidArgumentError(`one of ${allowed.join(", ")}${note ? ` (${note})` : ""}`);
    return value as MailState;
  };
