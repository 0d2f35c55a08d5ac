// A small tmpfs for disk-full tests (needs root or CAP_SYS_ADMIN; callers skip when
// mounting fails). The mount point lives outside tmpDir() so it can be unmounted before
// anything is removed.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Tmpfs {
  dir: string;
  /** mount -o remount,size=… */
  resize(size: string): void;
  /** mount -o remount,ro: nothing under it can be written any more. */
  readOnly(): void;
  /** Unmounts (lazily if busy) and removes the mount point; safe to call twice. */
  unmount(): void;
}

function run(args: string[]): { ok: boolean; message: string } {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: "utf8", timeout: 10_000 });
  return {
    ok: result.status === 0,
    message: `${args.join(" ")}: ${(result.stderr || result.stdout || String(result.error ?? "")).trim()} (exit ${result.status})`,
  };
}

/** Mounts a tmpfs of `size` (e.g. "3m"); returns the reason as a string when it cannot. */
export function mountTmpfs(size: string): Tmpfs | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-tmpfs-"));
  const mounted = run(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir]);
  if (!mounted.ok) {
    fs.rmdirSync(dir);
    return mounted.message;
  }
  let done = false;
  return {
    dir,
    resize(newSize) {
      const result = run(["mount", "-o", `remount,size=${newSize}`, dir]);
      if (!result.ok) throw new Error(result.message);
    },
    readOnly() {
      const result = run(["mount", "-o", "remount,ro", dir]);
      if (!result.ok) throw new Error(result.message);
    },
    unmount() {
      if (done) return;
      done = true;
      if (!run(["umount", dir]).ok) run(["umount", "-l", dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
