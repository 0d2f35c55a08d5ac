// Runs the real built relay (dist/mailspool, or `bun dist/main.js`) as a child process
// on an ephemeral port, learning its URL from the "mailspool listening" log line.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

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

export function startRelay(options: StartOptions): Promise<RelayProcess> {
  const args = options.args ?? ["serve"];
  const [command, argv] = options.runtime === "bundle" ? [bunPath, [bundlePath, ...args]] : [binaryPath, args];
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // 'close', not 'exit': it comes after the output pipes are drained, so output() is complete
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${output}`)), options.timeoutMs ?? 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http[^"]+)"[^\n]*"msg":"mailspool listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1]!,
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
