// Usage errors (exit 2): every one prints what is wrong and the usage line of the command it
// concerns, on stderr. Covers commander's own parse errors (unknown option, missing argument,
// invalid value), a word that names no command (the default `serve` would otherwise take it
// as an argument), and an InvalidArgumentError thrown by an action (a wrong combination).
import { CommanderError, InvalidArgumentError, type Command } from "commander";
import { closestMatch } from "leven";

export const usageExitCode = 2;

/** "mailspool spool ls [options]" */
export function usageLine(command: Command): string {
  return command.createHelp().commandUsage(command);
}

/** `root` and every command under it. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap(allCommands)];
}

/** "spool ls": the words that run `command` under its root. */
export function commandPath(command: Command): string {
  return command.parent ? `${commandPath(command.parent)} ${command.name()}`.trim() : "";
}

/** Call once every command is registered: they throw instead of exiting, and show their usage line after an error. */
export function configureUsageErrors(root: Command): void {
  for (const command of allCommands(root)) {
    command.exitOverride();
    command.showHelpAfterError(
      `Usage: ${usageLine(command)}\n(see: ${[root.name(), commandPath(command), "--help"].filter(Boolean).join(" ")})`,
    );
  }
}

/** The known command path closest to a mistyped word: "stats" → "spool stat", "ls" → "spool ls". */
function suggestCommand(root: Command, word: string): string | undefined {
  const byWord = new Map<string, string>();
  for (const command of allCommands(root).slice(1).reverse()) {
    const full = commandPath(command);
    byWord.set(full, full);
    byWord.set(command.name(), full);
  }
  const match = closestMatch(word, [...byWord.keys()], { maxDistance: Math.max(1, Math.floor(word.length / 3)) });
  return match === undefined ? undefined : byWord.get(match);
}

/** Whether option token `token` of `command` (or the root) takes the next argument as its value. */
function takesSeparateValue(commands: Command[], token: string): boolean | undefined {
  if (token.includes("=") || /^-[^-]./.test(token)) return false;
  const option = commands.flatMap((c) => c.options).find((o) => o.short === token || o.long === token);
  return option ? option.required || option.optional : undefined;
}

/**
 * Throws a usage error when the first word of `args` (after the options of the root and of its
 * default command) names no top-level command. Commander itself does this below the top level.
 */
export function rejectUnknownCommand(root: Command, defaultCommand: string, args: readonly string[]): void {
  const scope = [root, ...root.commands.filter((c) => c.name() === defaultCommand)];
  for (let i = 0; i < args.length; i += 1) {
    const token = args[i]!;
    if (token === "--") return;
    if (token.startsWith("-") && token !== "-") {
      const separate = takesSeparateValue(scope, token);
      if (separate === undefined) return; // commander reports the unknown option
      if (separate) i += 1;
      continue;
    }
    const known = [...root.commands, ...root.createHelp().visibleCommands(root)]; // with the implicit `help`
    if (known.some((c) => c.name() === token || c.aliases().includes(token))) return;
    const suggestion = suggestCommand(root, token);
    root.error(`error: unknown command '${token}'${suggestion ? `\n(Did you mean ${suggestion}?)` : ""}`, {
      exitCode: usageExitCode,
      code: "commander.unknownCommand",
    });
  }
}

/** Runs `argv`; the exit code: 0 ok (help included), 1 failure (message on stderr), 2 usage error. */
export async function runProgram(root: Command, defaultCommand: string, argv: string[]): Promise<number> {
  let running = root;
  root.hook("preAction", (_root, actionCommand) => {
    running = actionCommand;
  });
  try {
    try {
      rejectUnknownCommand(root, defaultCommand, argv.slice(2));
      await root.parseAsync(argv);
      return 0;
    } catch (error) {
      // thrown by an action, not by commander's parser (which wraps it in a CommanderError)
      if (error instanceof InvalidArgumentError)
        running.error(`error: ${error.message}`, { exitCode: usageExitCode, code: error.code });
      throw error;
    }
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed a group's help on stderr: no subcommand, or `help` of one it does not know
      if (error.code === "commander.help" && error.exitCode !== 0)
        process.stderr.write("error: name one of the commands listed above\n");
      return error.exitCode === 0 ? 0 : usageExitCode;
    }
    process.stderr.write(`mailspool: ${(error as Error).message}\n`);
    return 1;
  }
}
