// Entry of the executable: argv → command. Exit codes: 0 ok, 1 failure, 2 usage error.
import { createProgram, defaultCommand } from "./cli/program.js";
import { runProgram } from "./cli/usage-errors.js";

/** Exits once what was written through the streams (stderr, commander's help) is handed on; listings use printOut (cli/stdout.ts). */
async function exitWith(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))),
  );
  process.exit(code);
}

await exitWith(await runProgram(createProgram(), defaultCommand, process.argv));
