// Composition root of `serve`: config → spool (lock, recover) → delivery → HTTP.
// Shutdown runs in reverse: intake answers 503, open requests and in-flight deliveries
// get shutdown.graceSeconds, the segment writer drains, the lock is released.
import type { LoadedConfig } from "./config.js";
import { parseListen } from "./config.js";
import { Delivery } from "./delivery/delivery.js";
import { outboxTransport } from "./delivery/transports/outbox.js";
import type { Transport } from "./delivery/transports/transport.js";
import { createApp, type IntakeGate } from "./http/app.js";
import { listen, type Listening } from "./http/serve.js";
import type { Logger } from "./log.js";
import { Spool } from "./spool/spool.js";
import type { SegmentIo } from "./spool/segment.js";

export interface RunningServer {
  url: string;
  spool: Spool;
  delivery: Delivery;
  listening: Listening;
  stop(): Promise<void>;
}

export interface ServerOverrides {
  io?: SegmentIo;
  transport?: Transport;
}

export async function startServer(loaded: LoadedConfig, log: Logger, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const { config } = loaded;
  if (config.delivery.upstreams.length > 0 && !overrides.transport) {
    throw new Error("delivery.upstreams is set, but this version delivers only to the embedded outbox; remove the upstreams to use it");
  }
  const spool = Spool.open({ dataDir: loaded.dataDir, log: log.child({ component: "spool" }), minFreeBytes: config.spool.minFreeBytes, io: overrides.io });
  let listening: Listening | undefined;
  let delivery: Delivery | undefined;
  try {
    delivery = new Delivery({
      spool,
      transport: overrides.transport ?? outboxTransport(spool.paths.outbox),
      from: config.delivery.from,
      workers: config.delivery.workers,
      retry: config.delivery.retry,
      log: log.child({ component: "delivery" }),
    });
    const gate: IntakeGate = { accepting: true };
    const app = createApp({ config, spool, log: log.child({ component: "http" }), gate, onAccepted: (id) => delivery!.enqueue(id) });
    listening = await listen(app, { ...parseListen(config.server.listen), maxBodyBytes: config.server.maxBodyBytes, tls: config.server.tls.cert ? config.server.tls : undefined });
    delivery.start();
    log.info({ url: listening.url, runtime: listening.runtime, dataDir: loaded.dataDir, config: loaded.source ?? "embedded default" }, "mailspool listening");
    const running = { url: listening.url, spool, delivery, listening };
    return { ...running, stop: () => stopServer(running, gate, config.shutdown.graceSeconds * 1000, log) };
  } catch (error) {
    await listening?.close();
    await spool.close();
    throw error;
  }
}

async function stopServer(running: Omit<RunningServer, "stop">, gate: IntakeGate, graceMs: number, log: Logger): Promise<void> {
  gate.accepting = false;
  log.info({ graceMs }, "shutting down: intake closed");
  await Promise.all([running.delivery.stop(graceMs), withTimeout(running.listening.close(), graceMs)]);
  await running.spool.close();
  log.info("shutdown complete");
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
