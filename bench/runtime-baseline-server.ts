// Bench baselines of issue 12: what the runtime does on its own, with none of our code in
// the request path. A plain Hono app on Bun.serve (the runtime the executable embeds):
//   node_modules/.bin/bun bench/runtime-baseline-server.ts formdata   # multipart baseline
//   node_modules/.bin/bun bench/runtime-baseline-server.ts hello      # JSON baseline
// formdata: POST /api/email/send reads the body with the runtime's own `request.formData()`
//   (which keeps the whole body in memory and drops each part's declared Content-Type, so
//   the relay cannot use it) and answers the relay's 200 envelope with a fresh ulid.
// hello:    the Hono hello-world: the same POST answered with a fixed 200 JSON, no parsing
//   beyond what Hono does (the body is read as bytes and dropped, so Bun keeps the
//   connection alive exactly as it does for the relay, which reads every body).
// It logs the "mailspool listening" JSON line (with "url") that bench/run.mjs waits for.
import { Hono } from "hono";
import { ulid } from "ulid";

const mode = process.argv[2];
if (mode !== "formdata" && mode !== "hello") {
  console.error("usage: bun bench/runtime-baseline-server.ts formdata|hello");
  process.exit(2);
}

const app = new Hono();
if (mode === "formdata")
  app.post("/api/email/send", async (c) => {
    const form = await c.req.raw.formData();
    if (!form.has("receiver")) return c.json({ code: 400, message: "receiver missing", data: null }, 400);
    return c.json({ code: 200, message: "success", data: { id: ulid() } });
  });
else
  app.post("/api/email/send", async (c) => {
    await c.req.raw.arrayBuffer();
    return c.json({ code: 200, message: "success", data: { id: "01JBENCHHELLOWORLD000000000" } });
  });

interface BunRuntime {
  serve(options: { hostname: string; port: number; fetch: typeof app.fetch }): {
    port: number;
    stop(closeActive?: boolean): Promise<void>;
  };
}
const { Bun } = globalThis as unknown as { Bun: BunRuntime };
const [host, port] = (process.env.MAILSPOOL_LISTEN ?? "127.0.0.1:0").split(":");
const server = Bun.serve({ hostname: host ?? "127.0.0.1", port: Number(port), fetch: app.fetch });
console.log(JSON.stringify({ msg: "mailspool listening", url: `http://${host}:${server.port}`, mode, runtime: "bun" }));

const stop = () => {
  void server.stop(false);
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
