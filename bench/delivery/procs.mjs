// Process bookkeeping for the delivery bench: every child it starts is tracked by pid and
// killed (by that pid only) on exit; /proc readers for memory and CPU time.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const started = new Set(); // ChildProcess objects we spawned and have not seen exit
let hooked = false;

function killAll() {
  for (const child of started) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Installs the exit/signal hooks once (idempotent, so run.mjs may call us too). */
export function installCleanup(extra = () => {}) {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    killAll();
    extra();
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      console.error(`\ndelivery bench: ${signal}, cleaning up`);
      killAll();
      extra();
      process.exit(130);
    });
  }
}

export function track(child) {
  started.add(child);
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.once("exit", () => started.delete(child));
  return child;
}

export function spawnTracked(cmd, args, options) {
  return track(spawn(cmd, args, options));
}

export function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM by pid, then SIGKILL by pid after `graceMs`. */
export async function stopChild(child, graceMs = 10_000) {
  if (!alive(child)) return child.exited;
  process.kill(child.pid, "SIGTERM");
  const result = await Promise.race([child.exited, sleep(graceMs, null, { ref: false })]);
  if (result) return result;
  console.warn(`delivery bench: pid ${child.pid} did not stop within ${graceMs} ms of SIGTERM; SIGKILL`);
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
  return child.exited;
}

/** VmRSS and VmHWM in MiB (NaN when the process is gone). */
export function memory(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
    return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** utime and stime of a process, in seconds (NaN when gone). */
export function cpuTimes(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / clockTicks, sys: Number(fields[12]) / clockTicks };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

/** Per-core busy and steal seconds from /proc/stat: { cpu0: {busy, steal}, cpu1: … }. */
export function machineTimes() {
  const out = {};
  for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    out[m[1]] = {
      busy: (user + nice + system + irq + softirq) / clockTicks,
      iowait: iowait / clockTicks,
      idle: idle / clockTicks,
      steal: (steal ?? 0) / clockTicks,
    };
  }
  return out;
}

export function haveCommand(cmd, argv) {
  return spawnSync(cmd, argv, { stdio: "ignore" }).status === 0;
}

/**
 * Waits until `core` has been nearly idle (< `threshold` busy) for two 250 ms samples in a
 * row, at most `maxSeconds`; returns {quiet, waitedMs, busyPct} (busyPct of the last sample).
 * Other people's processes on the bench's core would otherwise be measured as ours.
 */
export async function waitQuiet(core, { maxSeconds = 20, threshold = 0.1 } = {}) {
  const started = performance.now();
  let calm = 0;
  let busyPct = NaN;
  let before = machineTimes()[core];
  for (let i = 0; i < maxSeconds * 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const after = machineTimes()[core];
    const busy = after.busy - before.busy;
    const total = busy + (after.idle - before.idle) + (after.iowait - before.iowait);
    busyPct = total > 0 ? (busy / total) * 100 : NaN;
    before = after;
    calm = busyPct < threshold * 100 ? calm + 1 : 0;
    if (calm >= 2) return { quiet: true, waitedMs: performance.now() - started, busyPct };
  }
  return { quiet: false, waitedMs: performance.now() - started, busyPct };
}
