// Runs the built relay under `strace -f -tt` and audits the trace: for every HTTP
// response carrying `"code":200` and a mail id, the id's `accepted` record must have
// been written to a spool segment fd and an fsync/fdatasync on that same fd (the same
// open file, not just the same number) must have completed before the response write
// started. Bun answers with sendto on the main thread and fdatasyncs on a pool thread;
// Node answers with writev; both interleave across threads as
// `<unfinished ...>` / `<... resumed>` pairs, which are joined per thread here.
//
// Ordering uses the trace's line order, which is causal: a thread stopped at a syscall
// exit cannot wake another before strace has printed that exit. The -tt timestamps are
// checked too and reported.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { listeningUrl, relayCommand, relayEnv } from "./server-process.js";

export const tracedCalls = [
  // the brief's calls
  "write",
  "writev",
  "pwrite64",
  "sendto",
  "sendmsg",
  "fsync",
  "fdatasync",
  // so segment writes in another shape would still be seen
  "pwritev",
  "pwritev2",
  // fd bookkeeping: numbers are reused, so an fd is identified by the open that made it
  "openat",
  "open",
  "creat",
  "accept",
  "accept4",
  "close",
  "dup2",
  "dup3",
];

export function straceAvailable(): boolean {
  return spawnSync("sh", ["-c", "command -v strace"], { encoding: "utf8" }).status === 0;
}

export interface TracedRelay {
  url: string;
  stracePid: number;
  relayPid: number;
  output: () => string;
  /** SIGTERM to the relay (the tracee), then waits for strace to finish writing the trace. */
  stop(): Promise<void>;
}

export function startTracedRelay(options: {
  cwd: string;
  traceFile: string;
  runtime: "binary" | "bundle";
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<TracedRelay> {
  const trace = ["-f", "-tt", "-s", "4194304", "-e", `trace=${tracedCalls.join(",")}`, "-o", options.traceFile];
  const child: ChildProcess = spawn("strace", [...trace, ...relayCommand(options.runtime, ["serve"])], {
    cwd: options.cwd,
    env: relayEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const relayPid = () => {
    const children = fs
      .readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    if (children.length !== 1) throw new Error(`strace ${child.pid} has children ${children.join(",")}`);
    return children[0]!;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`traced relay did not start:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = listeningUrl(output);
      if (!url) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.stderr!.off("data", onData);
      child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
      const pid = relayPid();
      resolve({
        url,
        stracePid: child.pid!,
        relayPid: pid,
        output: () => output,
        stop: async () => {
          process.kill(pid, "SIGTERM");
          const done = await Promise.race([
            exited.then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
          ]);
          if (!done) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
            child.kill("SIGKILL");
            await exited;
          }
        },
      });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`strace exited with ${code} before the relay listened:\n${output}`));
    });
  });
}

// ---------------------------------------------------------------- parsing

export interface Syscall {
  tid: number;
  name: string;
  /** The argument text as strace printed it (joined across unfinished/resumed). */
  args: string;
  ret: string;
  /** Line numbers of entry and exit (equal for a call printed in one piece). */
  startSeq: number;
  endSeq: number;
  /** Microseconds since midnight of the first line (-tt). */
  startUs: number;
  endUs: number;
}

const linePattern = /^(\d+)\s+(\d\d):(\d\d):(\d\d)\.(\d{6})\s(.*)$/;

/** Joins strace -f -tt output into whole syscalls, in entry order. */
export function parseTrace(text: string): Syscall[] {
  const calls: Syscall[] = [];
  const pending = new Map<number, Omit<Syscall, "ret" | "endSeq" | "endUs">>();
  let dayOffset = 0;
  let lastUs = 0;
  const lines = text.split("\n");
  lines.forEach((line, seq) => {
    const m = linePattern.exec(line);
    if (!m) return;
    const tid = Number(m[1]);
    let us = ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1e6 + Number(m[5]) + dayOffset;
    if (us < lastUs - 12 * 3600e6) {
      dayOffset += 24 * 3600e6;
      us += 24 * 3600e6;
    }
    lastUs = us;
    const rest = m[6]!;
    if (rest.startsWith("---") || rest.startsWith("+++")) return;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const start = pending.get(tid);
      pending.delete(tid);
      if (!start || start.name !== resumed[1]) return;
      const [args, ret] = splitReturn(resumed[2]!);
      calls.push({ ...start, args: start.args + args, ret, endSeq: seq, endUs: us });
      return;
    }
    const call = /^(\w+)\((.*)$/.exec(rest);
    if (!call) return;
    const body = call[2]!;
    if (body.endsWith(" <unfinished ...>")) {
      pending.set(tid, {
        tid,
        name: call[1]!,
        args: body.slice(0, -" <unfinished ...>".length),
        startSeq: seq,
        startUs: us,
      });
      return;
    }
    const [args, ret] = splitReturn(body);
    calls.push({ tid, name: call[1]!, args, ret, startSeq: seq, endSeq: seq, startUs: us, endUs: us });
  });
  return calls.sort((a, b) => a.startSeq - b.startSeq);
}

/** "args) = ret" (strace pads before "=") → [args, ret]; ret "?" when the call never returned. */
function splitReturn(text: string): [string, string] {
  for (let at = text.lastIndexOf(" = "); at > 0; at = text.lastIndexOf(" = ", at - 1)) {
    let close = at;
    while (close > 0 && text[close - 1] === " ") close -= 1;
    if (text[close - 1] === ")") return [text.slice(0, close - 1), text.slice(at + 3).trim()];
  }
  return [text.replace(/\)\s*$/, ""), "?"];
}

/** The bytes of every quoted string in the arguments, concatenated (iov arrays included), as latin1. */
export function quotedData(args: string): string {
  let out = "";
  for (const m of args.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out += unescapeC(m[1]!);
  return out;
}

function unescapeC(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_all, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: "\n", r: "\r", t: "\t", v: "\v", f: "\f", a: "\x07", b: "\b" } as Record<string, string>)[e] ?? e;
  });
}

const firstFd = (args: string) => Number(/^\s*(-?\d+)/.exec(args)?.[1] ?? NaN);

// ---------------------------------------------------------------- the audit

interface Binding {
  kind: "file" | "socket";
  path?: string;
}

export interface AckAudit {
  /** HTTP 200 responses carrying a mail id that were found in the trace. */
  acknowledgements: { id: string; seq: number; us: number }[];
  violations: { id: string; reason: string }[];
  /** Microseconds from the covering fsync's completion to the response write, per acknowledgement. */
  marginsUs: number[];
  segmentWrites: number;
  syncs: number;
}

const segmentPath = /\/spool\/\d{6,}\.jsonl$/;
const ackPattern = /"code":200,"message":"success","data":\{"id":"([0-9A-Z]{26})"\}/g;
const writeCalls = new Set(["write", "pwrite64", "writev", "pwritev", "pwritev2"]);
const answerCalls = new Set(["write", "writev", "sendto", "sendmsg"]);

export function auditTrace(calls: Syscall[]): AckAudit {
  // Which open file each fd number means at a given moment: bindings change at the exit
  // of openat/accept (the fd exists from then) and at the entry of close.
  const changes: { seq: number; fd: number; binding: Binding | null }[] = [];
  for (const c of calls) {
    const fd = Number(c.ret.split(" ")[0]);
    if (["openat", "open", "creat"].includes(c.name) && fd >= 0) {
      const file = /"((?:[^"\\]|\\.)*)"/.exec(c.args)?.[1];
      changes.push({
        seq: c.endSeq,
        fd,
        binding: { kind: "file", path: file === undefined ? undefined : unescapeC(file) },
      });
    } else if ((c.name === "accept" || c.name === "accept4") && fd >= 0) {
      changes.push({ seq: c.endSeq, fd, binding: { kind: "socket" } });
    } else if (c.name === "close") {
      changes.push({ seq: c.startSeq, fd: firstFd(c.args), binding: null });
    } else if ((c.name === "dup2" || c.name === "dup3") && fd >= 0) {
      changes.push({ seq: c.endSeq, fd, binding: null });
    }
  }
  changes.sort((a, b) => a.seq - b.seq);
  const history = new Map<number, { seq: number; binding: Binding | null }[]>();
  for (const ch of changes) {
    const list = history.get(ch.fd) ?? [];
    list.push({ seq: ch.seq, binding: ch.binding });
    history.set(ch.fd, list);
  }
  /** The binding (object identity = one open file) of fd just before seq; undefined when never bound. */
  const bindingAt = (fd: number, seq: number): Binding | null | undefined => {
    const list = history.get(fd);
    if (!list) return undefined;
    let found: Binding | null | undefined;
    for (const item of list) {
      if (item.seq >= seq) break;
      found = item.binding;
    }
    return found;
  };

  const syncs: { binding: Binding; startSeq: number; endSeq: number; endUs: number }[] = [];
  const written = new Map<string, { binding: Binding; endSeq: number }[]>();
  const acknowledgements: AckAudit["acknowledgements"] = [];
  let segmentWrites = 0;
  for (const c of calls) {
    const fd = firstFd(c.args);
    const binding = bindingAt(fd, c.startSeq);
    const ok = !c.ret.startsWith("-") && c.ret !== "?";
    if ((c.name === "fsync" || c.name === "fdatasync") && binding && c.ret === "0") {
      syncs.push({ binding, startSeq: c.startSeq, endSeq: c.endSeq, endUs: c.endUs });
    }
    if (writeCalls.has(c.name) && binding?.kind === "file" && binding.path && segmentPath.test(binding.path) && ok) {
      segmentWrites += 1;
      const data = quotedData(c.args);
      if (Number(c.ret.split(" ")[0]) !== Buffer.byteLength(data, "latin1")) continue; // a short write acknowledges nothing
      for (const line of data.split("\n")) {
        if (!line.includes('"type":"accepted"')) continue;
        const id = /"id":"([0-9A-Z]{26})"/.exec(line)?.[1];
        if (!id) continue;
        const list = written.get(id) ?? [];
        list.push({ binding, endSeq: c.endSeq });
        written.set(id, list);
      }
    }
    if (answerCalls.has(c.name) && binding?.kind !== "file" && fd > 2) {
      const data = quotedData(c.args);
      if (!data.includes('"code":200')) continue;
      for (const m of data.matchAll(ackPattern)) acknowledgements.push({ id: m[1]!, seq: c.startSeq, us: c.startUs });
    }
  }

  const violations: AckAudit["violations"] = [];
  const marginsUs: number[] = [];
  for (const ack of acknowledgements) {
    const writes = written.get(ack.id);
    if (!writes) {
      violations.push({ id: ack.id, reason: "acknowledged, but no accepted record was written to a spool segment" });
      continue;
    }
    let best: { endSeq: number; endUs: number } | undefined;
    for (const w of writes) {
      const covering = syncs.find((s) => s.binding === w.binding && s.startSeq > w.endSeq);
      if (covering && (!best || covering.endSeq < best.endSeq)) best = covering;
    }
    if (!best)
      violations.push({
        id: ack.id,
        reason: "acknowledged, but no fsync/fdatasync on its segment fd completed after the write",
      });
    else if (best.endSeq >= ack.seq)
      violations.push({
        id: ack.id,
        reason: `response written at trace line ${ack.seq + 1}, before its fsync completed (line ${best.endSeq + 1})`,
      });
    else if (best.endUs > ack.us)
      violations.push({ id: ack.id, reason: `response at ${ack.us} µs, fsync completed at ${best.endUs} µs` });
    else marginsUs.push(ack.us - best.endUs);
  }
  return { acknowledgements, violations, marginsUs, segmentWrites, syncs: syncs.length };
}
