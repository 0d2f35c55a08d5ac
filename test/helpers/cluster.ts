// Cluster-mode hosts for tests: real relay processes (the built binary), each with its own
// port and data dir, on the machine's RabbitMQ (MAILSPOOL_TEST_BROKER, default
// amqp://guest:guest@127.0.0.1:5672) under a prefix of the test's own; the prefix's queues
// and exchange are deleted afterwards.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import amqp from "amqplib";
import { ulid } from "ulid";
import { upstreamYaml } from "./relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "./server-process.js";
import { tmpDir, waitFor } from "./tmp-dir.js";

export const brokerUrl = process.env.MAILSPOOL_TEST_BROKER ?? "amqp://guest:guest@127.0.0.1:5672";

/** Whether the broker answers (a connection opens and closes within 3 s). */
export async function brokerReachable(): Promise<boolean> {
  try {
    const connection = await amqp.connect(brokerUrl, { timeout: 3000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

export interface Host {
  name: string;
  dir: string;
  relay: RelayProcess;
}

export interface HostOptions {
  prefix: string;
  sinkPort: number;
  ratePerSecond?: number;
  burst?: number;
  workers?: number;
  dailyLimit?: number;
  extra?: string;
}

export function clusterYaml(options: HostOptions): string {
  return [
    `broker: { url: "${brokerUrl}", prefix: "${options.prefix}", confirmTimeoutSeconds: 3 }`,
    "shutdown: { graceSeconds: 2 }",
    "delivery:",
    "  from: relay@example.com",
    `  workers: ${options.workers ?? 4}`,
    "  retry: { attempts: 5, baseSeconds: 1, maxSeconds: 2 }",
    "  upstreams:",
    upstreamYaml([
      {
        name: "sink",
        port: options.sinkPort,
        ratePerSecond: options.ratePerSecond,
        burst: options.burst,
        dailyLimit: options.dailyLimit,
      },
    ]),
    options.extra ?? "",
  ].join("\n");
}

export async function startHost(name: string, options: HostOptions, dir = tmpDir(`mailspool-${name}-`)): Promise<Host> {
  writeConfig(dir, clusterYaml(options));
  const relay = await startRelay({ cwd: dir, args: ["serve", "-c", "app.yaml"], env: { MAILSPOOL_LOG_LEVEL: "info" } });
  // ready once the broker connection is up (intake refuses before)
  await waitFor(() => relay.output().includes("connected to the broker"), 15_000, `${name} connected to the broker`);
  return { name, dir, relay };
}

export function newPrefix(): string {
  return `test-${ulid().toLowerCase()}`;
}

/** Deletes what the relay declared under `prefix` (queues, the journal exchange). */
export async function deleteTopology(prefix: string): Promise<void> {
  const connection = await amqp.connect(brokerUrl);
  try {
    const queues = execFileSync("rabbitmqctl", ["list_queues", "name", "--quiet", "--no-table-headers"], {
      encoding: "utf8",
    })
      .split("\n")
      .map((line) => line.trim())
      .filter((name) => name.startsWith(`${prefix}.`));
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(`${prefix}.journal`);
  } finally {
    await connection.close();
  }
}

/** Every line of a host's spool that names `id`. */
export function spoolLines(host: Host, id: string): Record<string, unknown>[] {
  const dir = path.join(host.dir, "data/spool");
  return fs
    .readdirSync(dir)
    .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n"))
    .filter((line) => line.includes(`"id":"${id}"`))
    .map((line) => JSON.parse(line));
}
