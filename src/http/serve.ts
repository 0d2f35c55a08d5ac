// The only runtime-specific file: Bun.serve under Bun (the executable, npm start), or
// @hono/node-server under Node. Passes the socket's address to the app as a binding.
import fs from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Hono } from "hono";
import { drainUnread } from "../intake/body-reader.js";
import type { AppEnv } from "./app-env.js";

export interface ListenOptions {
  host: string;
  port: number;
  /** Bounds how much of a body the app left unread is drained before the answer (Bun). */
  maxBodyBytes: number;
  tls?: { cert: string; key: string };
}

export interface Listening {
  url: string;
  port: number;
  runtime: "bun" | "node";
  /** Stops accepting connections and waits for open requests to end. */
  close(): Promise<void>;
}

interface BunServer {
  port: number;
  requestIP(request: Request): { address: string } | null;
  stop(closeActive?: boolean): Promise<void> | void;
}
interface BunRuntime {
  serve(options: Record<string, unknown>): BunServer;
  file(path: string): unknown;
}

const headerBytesCap = 16 * 1024;

export async function listen(app: Hono<AppEnv>, options: ListenOptions): Promise<Listening> {
  const bun = (globalThis as { Bun?: BunRuntime }).Bun;
  const scheme = options.tls ? "https" : "http";
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  // Both runtimes close the connection soon after answering a request whose body was never
  // read (401, 415, 503 …); a client still sending then gets a reset instead of the answer
  const answer = async (request: Request, remoteAddress: string | undefined) => {
    const response = await app.fetch(request, { remoteAddress });
    await drainUnread(request, options.maxBodyBytes);
    return response;
  };
  if (bun) {
    const server = bun.serve({
      hostname: options.host,
      port: options.port,
      // Bun's own guard answers a bare 413 (no envelope, no X-Request-Id) to a declared
      // length over it before the app sees the request, and cuts a chunked body it has
      // buffered past it; so it is off, and the app bounds every body itself
      // (intake/body-reader.ts for sends, a body limit on every other route in app.ts)
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      idleTimeout: 30,
      ...(options.tls ? { tls: { cert: bun.file(options.tls.cert), key: bun.file(options.tls.key) } } : {}),
      fetch: (request: Request, srv: BunServer) => answer(request, srv.requestIP(request)?.address),
    });
    return {
      url: `${scheme}://${hostForUrl}:${server.port}`,
      port: server.port,
      runtime: "bun",
      close: async () => {
        await server.stop(false);
      },
    };
  }
  const { serve } = await import("@hono/node-server");
  return new Promise((resolve) => {
    const server = serve(
      {
        fetch: (request: Request, env: { incoming: { socket: { remoteAddress?: string } } }) =>
          answer(request, env.incoming.socket.remoteAddress),
        hostname: options.host,
        port: options.port,
        ...(options.tls
          ? {
              createServer: createHttpsServer,
              serverOptions: { cert: fs.readFileSync(options.tls.cert), key: fs.readFileSync(options.tls.key) },
            }
          : {}),
      } as never,
      (info: AddressInfo) => {
        resolve({
          url: `${scheme}://${hostForUrl}:${info.port}`,
          port: info.port,
          runtime: "node",
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      },
    ) as unknown as import("node:http").Server;
    server.headersTimeout = 15_000;
    server.requestTimeout = 120_000;
    server.maxHeadersCount = 100;
    (server as unknown as { maxHeaderSize?: number }).maxHeaderSize = headerBytesCap;
  });
}
