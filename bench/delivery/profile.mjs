// Where does the relay spend its time while draining? One drain of the delivery bench's
// single-recipient workload, with the relay's bundle (dist/main.js, the code the single
// executable embeds) run by Bun under its sampling profiler, and syscalls counted by perf:
//
//   node bench/delivery/profile.mjs              (PROFILE_N=20000 PROFILE_RCPT=1 PROFILE_WORKERS=20)
//   node bench/delivery/attribute.mjs <printed dir>/*.cpuprofile     (self time by module and group)
//
// Prints: msg/s, CPU, syscalls per mail (perf tracepoints, when perf works), the Bun
// profile's hottest functions by self time, and leaves the profile (.md and .cpuprofile)
// in the printed directory. Loopback only; bounded (drain ≤ PROFILE_CAP_SECONDS, 90).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { appYaml, bun, makeSpool, root, startSink } from "./harness.mjs";
import { alive, cpuTimes, haveCommand, installCleanup, spawnTracked, stopChild } from "./procs.mjs";

const n = Number(process.env.PROFILE_N ?? 20000);
const per = Number(process.env.PROFILE_RCPT ?? 1);
const workers = Number(process.env.PROFILE_WORKERS ?? 20);
const capSeconds = Number(process.env.PROFILE_CAP_SECONDS ?? 90);
const logLevel = process.env.PROFILE_LOG_LEVEL ?? "info";
// PROFILE_ENTRY: what Bun runs (default the bundle the executable embeds; a patched copy's src/main.ts works too)
const bundle = process.env.PROFILE_ENTRY ?? path.join(root, "dist/main.js");
if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing (npm run build)`);

spawnSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-delivery-profile-"));
const out = fs.mkdtempSync(
  path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "mailspool-delivery-profile-"),
);
installCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

const events = [
  "fdatasync",
  "fsync",
  "openat",
  "close",
  "read",
  "pread64",
  "write",
  "pwrite64",
  "writev",
  "sendto",
  "sendmsg",
  "recvfrom",
  "epoll_wait",
  "epoll_pwait",
  "futex",
];
const perfEvents = events.map((e) => `syscalls:sys_enter_${e}`).join(",");
const havePerf = haveCommand("perf", ["stat", "-x", ",", "-e", "syscalls:sys_enter_fdatasync", "--", "true"]);

const sink = await startSink("1");
try {
  makeSpool(dir, n, per, false);
  const config = path.join(dir, "app.yaml");
  fs.writeFileSync(config, appYaml({ workers, smtpPort: sink.smtpPort, maxConnections: 5, logLevel }));
  await sink.reset();
  const logFile = path.join(out, "server.log");
  const logFd = fs.openSync(logFile, "w");
  const env = { ...process.env, MAILSPOOL_LISTEN: "127.0.0.1:0" };
  delete env.MAILSPOOL_DATA_DIR;
  delete env.MAILSPOOL_LOG_LEVEL;
  delete env.MAILSPOOL_CONFIG;
  const child = spawnTracked(
    "taskset",
    [
      "-c",
      "0",
      bun,
      "--cpu-prof",
      "--cpu-prof-md",
      `--cpu-prof-dir=${out}`,
      "--cpu-prof-interval=250",
      bundle,
      "serve",
      "-c",
      config,
    ],
    { cwd: dir, env, stdio: ["ignore", logFd, logFd] },
  );
  fs.closeSync(logFd);
  let listening;
  for (let i = 0; i < 6000 && !listening; i++) {
    const line = fs
      .readFileSync(logFile, "utf8")
      .split("\n")
      .find((l) => l.includes('"msg":"mailspool listening"'));
    if (line) listening = JSON.parse(line);
    else if (!alive(child)) throw new Error(`relay exited: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
    else await sleep(10);
  }
  if (!listening) throw new Error("relay did not listen within 60 s");
  const perf = havePerf
    ? spawnTracked(
        "taskset",
        [
          "-c",
          "1",
          "perf",
          "stat",
          "-x",
          ",",
          "-o",
          path.join(out, "perf.csv"),
          "-e",
          perfEvents,
          "-p",
          String(child.pid),
        ],
        { stdio: "ignore" },
      )
    : null;
  const cpu0 = cpuTimes(child.pid);
  const t0 = performance.now();
  let stats = await sink.stats();
  for (let i = 0; i < capSeconds * 20 && stats.messages < n; i++) {
    await sleep(50);
    stats = await sink.stats();
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuTimes(child.pid);
  const seconds = stats.messages >= n ? (stats.lastAt - Date.parse(listening.time)) / 1000 : wall;
  if (perf) {
    process.kill(perf.pid, "SIGINT");
    await Promise.race([perf.exited, sleep(3000, null, { ref: false })]);
  }
  await stopChild(child, 30_000);
  console.log(
    `profile: N=${n} × ${per} rcpt, workers ${workers}, log ${logLevel}: ${stats.messages} delivered in ${seconds.toFixed(2)} s = ${(stats.messages / seconds).toFixed(0)} msg/s; relay CPU ${(((cpu1.user - cpu0.user) / wall) * 100).toFixed(0)}% usr + ${(((cpu1.sys - cpu0.sys) / wall) * 100).toFixed(0)}% sys`,
  );
  const perfFile = path.join(out, "perf.csv");
  if (fs.existsSync(perfFile)) {
    const counts = [];
    for (const line of fs.readFileSync(perfFile, "utf8").split("\n")) {
      const [value, , event] = line.split(",");
      if (event?.startsWith("syscalls:") && Number(value) > 0)
        counts.push(`${event.replace("syscalls:sys_enter_", "")} ${(Number(value) / stats.messages).toFixed(2)}`);
    }
    console.log(`syscalls per delivered mail: ${counts.join(", ")}`);
  }
  const md = fs.readdirSync(out).find((f) => f.endsWith(".md"));
  console.log(`profile files in ${out}: ${fs.readdirSync(out).join(", ")}`);
  if (md) {
    const text = fs.readFileSync(path.join(out, md), "utf8");
    console.log(
      text
        .split("\n")
        .slice(0, Number(process.env.PROFILE_LINES ?? 30))
        .join("\n"),
    );
  }
  const cpuprofile = fs.readdirSync(out).find((f) => f.endsWith(".cpuprofile"));
  if (cpuprofile) {
    const attributed = spawnSync(
      process.execPath,
      [
        path.join(root, "bench/delivery/attribute.mjs"),
        path.join(out, cpuprofile),
        ...(bundle.endsWith(".js") ? [bundle] : []),
      ],
      { encoding: "utf8" },
    );
    console.log(`\n${attributed.stdout}${attributed.stderr}`);
  }
} finally {
  await stopChild(sink.child, 3000);
}
