// Builds dist/ once before the suite when it is missing or older than src/, so
// `npm ci && npm test` works on a fresh clone and integration tests run the real binary.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const binary = path.join(root, "dist/mailspool");
  const built = fs.existsSync(binary) ? fs.statSync(binary).mtimeMs : 0;
  if (built > newestSource(path.join(root, "src"))) return;
  execFileSync("node", ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
}
