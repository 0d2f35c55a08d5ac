// Bench variant: the real durable relay (src/server.ts startServer: same spool, same app,
// same logging) whose delivery is PARKED, so it does not compete with intake. Run with Bun:
//   node_modules/.bin/bun bench/durable-parked-server.ts -c <app.yaml>
// There is no switch for that in the product, and src/ is not ours to edit, so this entry
// passes startServer's existing `transport` override: a transport whose send() never
// settles. The one worker (delivery.workers: 1) takes the first mail, composes it, and
// then waits forever; every later mail just sits in the in-memory queue.
// The transport is the real embedded outbox with only send() replaced, so whatever else the
// Transport interface asks for stays the product's own.
// SIGUSR2 logs the segment writer's group-commit counters ("bench commit stats"), so the
// runner can take lines per fdatasync over exactly the measured window.
import { loadConfig } from "../src/config.js";
import { outboxTransport } from "../src/delivery/transports/outbox.js";
import type { Transport } from "../src/delivery/transports/transport.js";
import { createLogger, flushLogger } from "../src/log.js";
import { startServer } from "../src/server.js";
import { spoolPaths } from "../src/spool/spool.js";

const configIndex = process.argv.indexOf("-c");
const loaded = loadConfig({ explicitPath: configIndex > 0 ? process.argv[configIndex + 1] : undefined });
const parked: Transport = {
  ...outboxTransport(spoolPaths(loaded.dataDir).outbox),
  name: "parked",
  send: () => new Promise<never>(() => undefined),
};
const log = createLogger(loaded.config.log.level);
const server = await startServer(loaded, log, { transport: parked });

process.on("SIGUSR2", () => log.info({ commit: { ...server.spool.commitStats } }, "bench commit stats"));
const stop = async (signal: string) => {
  log.info({ signal, commit: { ...server.spool.commitStats } }, "signal received");
  await server.stop();
  flushLogger(log);
  process.exit(0);
};
process.once("SIGTERM", () => void stop("SIGTERM"));
process.once("SIGINT", () => void stop("SIGINT"));
