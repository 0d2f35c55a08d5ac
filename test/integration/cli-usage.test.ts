// Usage errors of every command, generated from the command tree the binary runs
// (src/cli/program.ts): unknown options, options missing their value, values their parser
// refuses, missing and excess arguments, unknown commands at every level. Each exits 2 with
// an "error:" line and the command's usage line on stderr, prints nothing on stdout and
// creates nothing; --help on every command exits 0.
import fs from "node:fs";
import path from "node:path";
import type { Command, Option } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createProgram } from "../../src/cli/program.js";
import { allCommands, commandPath, usageLine } from "../../src/cli/usage-errors.js";
import { runCli } from "../helpers/cli.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const program = createProgram();
const commands = allCommands(program).slice(1);
const leaves = commands.filter((c) => c.commands.length === 0);
const words = (c: Command) => commandPath(c).split(" ");
const valueOptions = (c: Command) => c.options.filter((o) => o.required);
/** Whether the option's own parser refuses the value (as the binary will). */
const refuses = (option: Option, value: string) => {
  try {
    option.parseArg!(value, undefined);
    return false;
  } catch {
    return true;
  }
};

function expectUsageError(args: string[], usageOf: Command, message: RegExp | string): void {
  const dir = tmpDir();
  const result = runCli(args, dir);
  const label = args.join(" ");
  expect(result.code, label).toBe(2);
  expect(result.stdout, label).toBe("");
  expect(result.stderr, label).toMatch(/^error: .+/m);
  if (typeof message === "string") expect(result.stderr, label).toContain(message);
  else expect(result.stderr, label).toMatch(message);
  expect(result.stderr, label).toContain(`Usage: ${usageLine(usageOf)}`);
  expect(fs.readdirSync(dir), label).toEqual([]);
}

describe("the command tree", () => {
  it("has the read commands this suite relies on", () => {
    expect(commands.map(commandPath)).toEqual(
      expect.arrayContaining(["serve", "spool ls", "spool show", "spool stat", "replay", "cancel", "fsck"]),
    );
  });
});

describe.each(leaves.map((c) => [commandPath(c), c] as const))("mailspool %s", (_, command) => {
  it("--help exits 0 with its usage line on stdout", () => {
    const result = runCli([...words(command), "--help"], tmpDir());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: ${usageLine(command)}`);
  });

  it("an unknown option", () => {
    expectUsageError([...words(command), "--no-such-option"], command, "error: unknown option '--no-such-option'");
  });

  it.each(valueOptions(command).map((o) => [o.flags, o] as const))("%s without its value", (_, option) => {
    expectUsageError([...words(command), option.long!], command, `error: option '${option.flags}' argument missing`);
  });

  const required = command.registeredArguments.filter((a) => a.required);
  it.runIf(required.length > 0)("its required arguments missing", () => {
    expectUsageError(words(command), command, `error: missing required argument '${required[0]?.name()}'`);
  });

  const takesAny = command.registeredArguments.some((a) => a.variadic);
  it.runIf(!takesAny)("an argument too many", () => {
    const extra = command.registeredArguments.map(() => "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    expectUsageError([...words(command), ...extra, "extra-word"], command, "error: too many arguments");
  });

  // options whose parser refuses something (a free-text one like --recipients refuses nothing)
  const parsed = valueOptions(command).filter((o) => o.parseArg && ["", "x", "-1", "0"].some((v) => refuses(o, v)));
  it.runIf(parsed.length > 0)("values the option's parser refuses (generated)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...parsed),
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("-1", "0", "x", "2 hours", "1e3", "ftp://x")),
        (option, value) => {
          fc.pre(refuses(option, value));
          expectUsageError([...words(command), `${option.long!}=${value}`], command, /argument .* is invalid/);
        },
      ),
      { numRuns: 3 },
    );
  });
});

describe("unknown commands", () => {
  const spool = commands.find((c) => commandPath(c) === "spool")!;

  it("names the word and suggests the closest command, at the top and below", () => {
    expectUsageError(["stats"], program, /error: unknown command 'stats'\n\(Did you mean spool stat\?\)/);
    expectUsageError(["ls"], program, "(Did you mean spool ls?)");
    expectUsageError(["-c", "app.yaml", "replya"], program, "(Did you mean replay?)");
    expectUsageError(["spool", "stats"], spool, "error: unknown command 'stats'");
  });

  it("any other word is an unknown command, never an argument of serve (generated)", () => {
    const known = new Set(commands.flatMap((c) => [c.name(), ...c.aliases()]).concat("help"));
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), (word) => {
        fc.pre(!known.has(word));
        expectUsageError([word], program, `error: unknown command '${word}'`);
      }),
      { numRuns: 4 },
    );
  });

  it("a group without its command, or help of an unknown one, lists the commands and says to name one", () => {
    for (const [args, group] of [
      [["spool"], spool],
      [["spool", "help", "stats"], spool],
      [["help", "stats"], program],
    ] as const) {
      const result = runCli([...args], tmpDir());
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toContain(`Usage: ${usageLine(group)}`);
      expect(result.stderr, args.join(" ")).toContain("error: name one of the commands listed above");
    }
  });

  it("help, --version and --help still work", () => {
    for (const args of [["help"], ["help", "spool"], ["--version"], ["--help"], ["spool", "--help"]]) {
      const result = runCli(args, tmpDir());
      expect(result.code, args.join(" ")).toBe(0);
      expect(result.stdout, args.join(" ")).not.toBe("");
    }
  });
});

describe("usage errors an action finds", () => {
  it("replay with no ids and no --failed prints what is wrong and the usage line (exit 2)", () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "data/spool"), { recursive: true });
    const replay = commands.find((c) => commandPath(c) === "replay")!;
    for (const args of [["replay"], ["replay", "--since", "2h"]]) {
      const result = runCli(args, dir);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(/^error: .+/m);
      expect(result.stderr, args.join(" ")).toContain(`Usage: ${usageLine(replay)}`);
      expect(result.stdout).toBe("");
    }
    expect(fs.readdirSync(path.join(dir, "data"))).toEqual(["spool"]);
  });
});
