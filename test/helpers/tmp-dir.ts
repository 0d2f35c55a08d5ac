// Temporary directories for tests, removed when the test file ends — also those made inside
// a test, where a hook registered then would never run: one hook, registered as the test
// file imports this module, removes every directory made since. A file that fails while it
// is collected runs no hooks: what it made goes when its worker process exits.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];
const removeMade = () => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
};
afterAll(removeMade);
process.once("exit", removeMade);

export function tmpDir(prefix = "mailspool-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Polls until check returns a value (not undefined/false) or the timeout passes. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
