// The only runtime-specific file: Bun.serve (the executable, npm start and the tests all
// run on Bun). Passes the socket's address to the app as a binding.
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
  runtime: "bun";
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

export async function listen(app: Hono<AppEnv>, options: ListenOptions): Promise<Listening> {
  const bun = (globalThis as { Bun?: BunRuntime }).Bun;
  const scheme = options.tls ? "https" : "http";
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  // Bun closes the connection soon after answering a request whose body was never
  // read (401, 415, 503 …); a client still sending then gets a reset instead of the answer
  const answer = async (request: Request, remoteAddress: string | undefined) => {
    const response = await app.fetch(request, { remoteAddress });
    await drainUnread(request, options.maxBodyBytes);
    return response;
  };
  if (!bun) throw new Error("mailspool runs on Bun: the single executable, npm start or bun dist/main.js");
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
