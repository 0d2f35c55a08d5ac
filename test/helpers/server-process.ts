// Runs the real built relay (dist/mailspool, or `bun dist/main.js`) as a child process
// on an ephemeral port, learning its URL from the "mailspool listening" log line.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { post } from "./http.js";
import { waitFor } from "./tmp-dir.js";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
export const binaryPath = path.join(repoRoot, "dist/mailspool");
export const bundlePath = path.join(repoRoot, "dist/main.js");
/** The Bun runtime installed from the npm registry: what `npm start` runs. */
export const bunPath = path.join(repoRoot, "node_modules/.bin/bun");

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface StartOptions {
  cwd: string;
  args?: string[];
  runtime?: "binary" | "bundle";
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Writes app.yaml into dir from YAML text and returns its path. */
export function writeConfig(dir: string, yaml: string): string {
  const file = path.join(dir, "app.yaml");
  fs.writeFileSync(file, yaml);
  return file;
}

/** The command line that runs the relay: the built binary, or the bundle on Bun. */
export function relayCommand(runtime: StartOptions["runtime"], args: string[]): string[] {
  return runtime === "bundle" ? [bunPath, bundlePath, ...args] : [binaryPath, ...args];
}

/** The environment a relay starts in: this process's, listening on an ephemeral loopback port. */
export function relayEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0", ...env };
}

/** The URL from the relay's "mailspool listening" log line, once its output has it. */
export function listeningUrl(output: string): string | undefined {
  return /"url":"(http[^"]+)"[^\n]*"msg":"mailspool listening"/.exec(output)?.[1];
}

export function startRelay(options: StartOptions): Promise<RelayProcess> {
  const [command, ...argv] = relayCommand(options.runtime, options.args ?? ["serve"]);
  const child = spawn(command!, argv, {
    cwd: options.cwd,
    env: relayEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // 'close', not 'exit': it comes after the output pipes are drained, so output() is complete
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${output}`)), options.timeoutMs ?? 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = listeningUrl(output);
      if (url) {
        clearTimeout(timer);
        resolve({
          url,
          child,
          output: () => output,
          stop: async () => {
            child.kill("SIGTERM");
            return exited;
          },
          kill: async () => {
            child.kill("SIGKILL");
            await exited;
          },
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before listening:\n${output}`));
    });
  });
}

/**
 * Sends a mail (JSON; `fields` over a default content and receiver) to the relay serving from
 * `dir`, and resolves with its id once its data/outbox/<id>.eml is written.
 */
export async function sendAndWaitForEml(url: string, dir: string, fields: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify({ content: "<p>x</p>", receiver: "a@example.com", ...fields });
  const answer = await post(url, body, { "content-type": "application/json" });
  if (answer.status !== 200) throw new Error(`send answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const id = answer.body.data.id as string;
  await waitFor(() => fs.existsSync(path.join(dir, "data/outbox", `${id}.eml`)), 10_000, "the .eml");
  return id;
}
