// Runs the built binary as a one-shot command and captures exit code and output. runCliAsync
// leaves the event loop free: a server running in the test's own process (relay-in-process.ts)
// must be able to ingest what the command hands it while the command waits for its verdict.
// runCliOnTty runs it under a pseudo-terminal (util-linux `script`), stdout and stderr both.
import { spawn, spawnSync } from "node:child_process";
import { binaryPath } from "./server-process.js";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): CliResult {
  const result = spawnSync(binaryPath, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function runCliAsync(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const child = spawn(binaryPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** The command on a terminal: what it wrote there (stdout and stderr interleaved, as a person sees them). */
export function runCliOnTty(args: string[], cwd: string): { code: number | null; output: string } {
  const command = [binaryPath, ...args].map(shellQuote).join(" ");
  const result = spawnSync("script", ["-qec", command, "/dev/null"], {
    cwd,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, TERM: "xterm" },
  });
  return { code: result.status, output: result.stdout };
}
