// Bench baselines of issue 12: what the runtime does on its own, with none of our code in
// the request path. A plain Hono app on Bun.serve (the runtime the executable embeds):
//   node_modules/.bin/bun bench/runtime-baseline-server.ts formdata   # multipart baseline
//   node_modules/.bin/bun bench/runtime-baseline-server.ts hello      # JSON baseline
//   node_modules/.bin/bun bench/runtime-baseline-server.ts formdata-durable|json-durable
// formdata: POST /api/email/send reads the body with the runtime's own `request.formData()`
//   (which keeps the whole body in memory and drops each part's declared Content-Type, so
//   the relay cannot use it) and answers the relay's 200 envelope with a fresh ulid.
// hello:    the Hono hello-world: the same POST answered with a fixed 200 JSON, no parsing
//   beyond what Hono does (the body is read as bytes and dropped, so Bun keeps the
//   connection alive exactly as it does for the relay, which reads every body).
// formdata-durable / json-durable: the fastest honest *durable* server we know how to write
//   on the runtime, to show what durability alone costs: the body parsed by the runtime
//   (`formData()`, files as base64 / `json()`), one JSON line per mail appended to
//   ./data/baseline.jsonl with group commit (one write + one fdatasync for every line that
//   arrived meanwhile), and the 200 only after its fdatasync. No validation, no index, no logs.
// It logs the "mailspool listening" JSON line (with "url") that bench/run.mjs waits for.
import fs from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { ulid } from "ulid";

const mode = process.argv[2];
const modes = ["formdata", "hello", "formdata-durable", "json-durable"];
if (!modes.includes(mode ?? "")) {
  console.error(`usage: bun bench/runtime-baseline-server.ts ${modes.join("|")}`);
  process.exit(2);
}

/** Group commit: lines that arrive while a write + fdatasync runs go out together in the next one. */
function groupCommitAppender(file: string): (line: string) => Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "a");
  let pending: { line: string; done: () => void }[] = [];
  let busy = false;
  const flush = async () => {
    busy = true;
    while (pending.length) {
      const batch = pending;
      pending = [];
      const bytes = Buffer.from(batch.map((p) => p.line).join(""));
      await new Promise<void>((resolve, reject) => fs.write(fd, bytes, (e) => (e ? reject(e) : resolve())));
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
      for (const p of batch) p.done();
    }
    busy = false;
  };
  return (line) =>
    new Promise<void>((done) => {
      pending.push({ line, done });
      if (!busy) void flush();
    });
}

const app = new Hono();
if (mode === "formdata-durable" || mode === "json-durable") {
  const append = groupCommitAppender("data/baseline.jsonl");
  app.post("/api/email/send", async (c) => {
    const id = ulid();
    let fields: Record<string, unknown>;
    if (mode === "json-durable") fields = (await c.req.raw.json()) as Record<string, unknown>;
    else {
      fields = {};
      for (const [name, value] of await c.req.raw.formData())
        fields[name] =
          typeof value === "string"
            ? value
            : { name: value.name, type: value.type, base64: Buffer.from(await value.arrayBuffer()).toString("base64") };
    }
    await append(`${JSON.stringify({ type: "accepted", id, ts: new Date().toISOString(), mail: fields })}\n`);
    return c.json({ code: 200, message: "success", data: { id } });
  });
} else if (mode === "formdata")
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
