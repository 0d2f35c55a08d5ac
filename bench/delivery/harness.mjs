// Shared pieces of the delivery bench (bench/delivery.mjs) and its profiler
// (bench/delivery/profile.mjs): the sink process, the spool generator, the relay's app.yaml.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnTracked } from "./procs.mjs";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const binary = path.join(root, "dist/mailspool");
export const bun = path.join(root, "node_modules/.bin/bun");
export const here = (file) => path.join(root, "bench/delivery", file);

/** `env` adds to the sink's environment (SINK_MESSAGE_IDS=1: count distinct Message-IDs and duplicates). */
export async function startSink(cpu, env = {}) {
  const child = spawnTracked("taskset", ["-c", cpu, process.execPath, here("sink.mjs")], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const first = await new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error("the SMTP sink did not start within 10 s")), 10_000);
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, nl));
      }
    });
    child.once("exit", (code) => reject(new Error(`the SMTP sink exited (${code}) before listening`)));
  });
  const { smtpPort, httpPort } = JSON.parse(first);
  const api = `http://127.0.0.1:${httpPort}`;
  return {
    child,
    pid: child.pid,
    smtpPort,
    stats: async () => (await fetch(`${api}/stats`)).json(),
    reset: async () => (await fetch(`${api}/reset`, { method: "POST" })).json(),
  };
}

export function makeSpool(dir, n, per, attachment, text = false, failed = false) {
  const args = [
    here("make-spool.ts"),
    dir,
    String(n),
    String(per),
    ...(attachment ? ["--attachment"] : []),
    ...(text ? ["--text"] : []),
    ...(failed ? ["--failed"] : []),
  ];
  const out = execFileSync(bun, args, { cwd: root, encoding: "utf8", timeout: 120_000 });
  return JSON.parse(out.trim().split("\n").at(-1));
}

/** DELIVERY_WEBHOOK_URL (optional): an event webhook on `sent` to that URL, to measure what events cost delivery. */
export function appYaml({ workers, smtpPort, maxConnections, logLevel }) {
  const webhook = process.env.DELIVERY_WEBHOOK_URL
    ? `webhooks:\n  - { url: "${process.env.DELIVERY_WEBHOOK_URL}", events: [sent], secret: "whsec_${Buffer.alloc(32, 1).toString("base64")}" }\n`
    : "";
  return `# written by bench/delivery.mjs
${webhook}
server:
  listen: "127.0.0.1:0"      # MAILSPOOL_LISTEN wins anyway
spool:
  dir: ./data
delivery:
  from: "bench@example.org"
  workers: ${workers}
  batch: { size: 20, delayMs: 0, continueOnError: true }
  retry: { attempts: 5, baseSeconds: 30, maxSeconds: 1800 }
  upstreams:
    - { name: sink, host: 127.0.0.1, port: ${smtpPort}, secure: false, requireTLS: false,
        maxConnections: ${maxConnections}, ratePerSecond: 100000, burst: 100000 }
shutdown:
  graceSeconds: 10
log:
  level: ${logLevel}
`;
}

/**
 * `mailspool spool ls --json` over every mail, tallied by state: {listed, states, status}.
 * `listed` short of the mail count means the listing itself lost lines.
 */
export function spoolStates(config) {
  const r = spawnSync(binary, ["spool", "ls", "--json", "--limit", "100000000", "-c", config], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    timeout: 120_000,
  });
  const states = {};
  let listed = 0;
  for (const line of (r.stdout ?? "").split("\n")) {
    if (!line.trim()) continue;
    listed += 1;
    let state = "?";
    try {
      state = JSON.parse(line).state;
    } catch {
      // a cut line
    }
    states[state] = (states[state] ?? 0) + 1;
  }
  return { listed, states, status: r.status, stderr: (r.stderr ?? "").trim().split("\n").slice(-3).join(" | ") };
}
