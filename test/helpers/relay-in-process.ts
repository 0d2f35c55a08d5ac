// Starts the relay in this process (Node) on an ephemeral port with an app.yaml built
// from YAML text, for tests that need to reach inside (spool index, injected clock).
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer, type ServerOverrides } from "../../src/server.js";
import { get } from "./http.js";
import { tmpDir, waitFor } from "./tmp-dir.js";

export interface InProcessRelay extends RunningServer {
  dir: string;
  /** Polls the status API until the mail reaches one of these states. */
  waitForState(id: string, states: string[], timeoutMs?: number): Promise<any>;
  records(id: string): any[];
}

export async function startInProcess(
  yaml: string,
  overrides: ServerOverrides = {},
  dir = tmpDir(),
): Promise<InProcessRelay> {
  fs.writeFileSync(path.join(dir, "app.yaml"), yaml);
  const loaded = loadConfig({ cwd: dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } });
  const server = await startServer(loaded, createLogger(process.env.MAILSPOOL_TEST_LOG ?? "silent"), overrides);
  return {
    ...server,
    dir,
    waitForState: (id, states, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const answer = await get(server.url, `/api/email/${id}`);
          return answer.status === 200 && states.includes(answer.body.data.state) ? answer.body.data : undefined;
        },
        timeoutMs,
        `mail ${id} in ${states.join("|")}`,
      ),
    records: (id) =>
      fs
        .readdirSync(path.join(dir, "data/spool"))
        .sort()
        .flatMap((f) => fs.readFileSync(path.join(dir, "data/spool", f), "utf8").split("\n"))
        .filter((l) => l.includes(`"id":"${id}"`))
        .map((l) => JSON.parse(l)),
  };
}

/**
 * The `delivery:` section of an app.yaml that sends to one local sink: `settings` are the
 * section's other lines as written there (indented by two), e.g. "  from: relay@example.org".
 */
export function deliveryYaml(port: number, settings: string[] = [], name = "sink"): string {
  return ["delivery:", ...settings, "  upstreams:", upstreamYaml([{ name, port }])].join("\n");
}

/** YAML for upstreams pointing at local sinks. */
export function upstreamYaml(
  upstreams: {
    name: string;
    port: number;
    user?: string;
    pass?: string;
    dailyLimit?: number;
    ratePerSecond?: number;
    burst?: number;
  }[],
): string {
  return upstreams
    .map((u) =>
      [
        `    - name: ${u.name}`,
        "      host: 127.0.0.1",
        `      port: ${u.port}`,
        "      secure: false",
        "      requireTLS: false",
        ...(u.user ? [`      user: ${u.user}`, `      pass: ${u.pass}`] : []),
        "      maxConnections: 2",
        `      ratePerSecond: ${u.ratePerSecond ?? 1000}`,
        `      burst: ${u.burst ?? 1000}`,
        `      dailyLimit: ${u.dailyLimit ?? 0}`,
      ].join("\n"),
    )
    .join("\n");
}
