// Config problems: each names its key path, the reason and where it came from (the file and
// line, or the environment variable). ConfigError carries every problem found at once, so an
// operator fixes the file in one pass; this file also turns zod issues into those reasons.
import type { z } from "zod";
import { knownKeys, suggestKey } from "./config-keys.js";

export type IssueOrigin = { file: string; line?: number } | { variable: string };

export interface ConfigIssue {
  /** "server.allow[1]"; "config" = the file itself. */
  keyPath: string;
  message: string;
  /** Dotted path as a list (for the file line); absent for problems of the file itself. */
  at?: readonly PropertyKey[];
  origin?: IssueOrigin;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? String(s) : `.${String(s)}`;
  return out || "config";
}

/** One line: "<file>:<line>: <key>: <reason>", or "<key>: <reason> (from VAR)". */
export function formatIssue(issue: ConfigIssue): string {
  const { origin } = issue;
  const text = `${issue.keyPath}: ${issue.message}`;
  if (!origin) return text;
  if ("variable" in origin) return `${text} (from ${origin.variable})`;
  return `${origin.file}${origin.line ? `:${origin.line}` : ""}: ${text}`;
}

/** A configuration problem. `keyPath` is the first issue's; the message lists every issue, one per line. */
export class ConfigError extends Error {
  readonly keyPath: string;

  constructor(readonly issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    super(lines.length === 1 ? lines[0] : `${lines.length} config errors:\n${lines.map((l) => `  ${l}`).join("\n")}`);
    this.name = "ConfigError";
    this.keyPath = issues[0]?.keyPath ?? "config";
  }

  static at(keyPath: string, message: string): ConfigError {
    return new ConfigError([{ keyPath, message }]);
  }
}

/** Zod's messages in an operator's words; never echoes a value (it may be a secret). */
export function describe(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type": {
      if (iss.input === undefined) return "is required";
      const got = Array.isArray(iss.input)
        ? "a list"
        : iss.input === null
          ? "null"
          : typeof iss.input === "object"
            ? "a mapping"
            : `a ${typeof iss.input}`;
      if (iss.expected === "int")
        return typeof iss.input === "number" ? "must be an integer" : `must be an integer, got ${got}`;
      const what =
        { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false" }[
          iss.expected as string
        ] ?? iss.expected;
      return `must be ${what}, got ${got}${iss.expected === "string" && typeof iss.input !== "object" ? " (put it in quotes)" : ""}`;
    }
    case "too_small":
      if (iss.origin === "string")
        return Number(iss.minimum) <= 1 ? "must not be empty" : `must be at least ${iss.minimum} characters`;
      if (iss.origin === "array") return `must have at least ${iss.minimum} entries`;
      return `must be ${iss.inclusive ? "≥" : ">"} ${iss.minimum}`;
    case "too_big":
      return `must be ${iss.inclusive ? "≤" : "<"} ${iss.maximum}`;
    case "invalid_value":
      return `must be one of: ${iss.values.map((v) => String(v)).join(", ")}`;
    default:
      return undefined;
  }
}

function unknownKey(base: readonly PropertyKey[], key: string): string {
  const suggestion = suggestKey(key, knownKeys(base));
  return suggestion ? `unknown key (did you mean \`${suggestion}\`?)` : "unknown key";
}

/** One ConfigIssue per zod issue (one per unknown key), located by path only. */
export function schemaIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  return issues.flatMap((iss): ConfigIssue[] =>
    iss.code === "unrecognized_keys"
      ? iss.keys.map((k) => ({
          keyPath: formatPath([...iss.path, k]),
          at: [...iss.path, k],
          message: unknownKey(iss.path, k),
        }))
      : [{ keyPath: formatPath(iss.path), at: iss.path, message: iss.message }],
  );
}
