// Bench baselines for upload memory (bench/upload-rss.mjs). Run with Bun:
//   node_modules/.bin/bun bench/upload-baseline-server.ts <dir> stream|formdata
// stream:   the fastest honest alternative to the relay's intake: a plain Bun.serve that
//           writes request.body chunk by chunk to a file (awaiting each write, as the
//           relay's blob writer does) and parses nothing
// formdata: the runtime's own parser, request.formData(), with each file written out
// Prints {"url": …} once listening.
import fs from "node:fs";
import path from "node:path";

interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    maxRequestBodySize: number;
    fetch(request: Request): Promise<Response>;
  }): { port: number };
}
const bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
const [dir, mode] = [process.argv[2]!, process.argv[3] ?? "stream"];
let n = 0;

async function streamToFile(request: Request): Promise<number> {
  const handle = await fs.promises.open(path.join(dir, `upload-${(n += 1)}`), "w");
  let size = 0;
  try {
    for await (const chunk of request.body!) {
      size += chunk.byteLength;
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return size;
}

async function formDataToFiles(request: Request): Promise<number> {
  const form = await request.formData();
  let size = 0;
  for (const value of form.values()) {
    if (typeof value === "string") continue;
    size += value.size;
    await fs.promises.writeFile(path.join(dir, `upload-${(n += 1)}`), value.stream());
  }
  return size;
}

const server = bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  async fetch(request: Request) {
    const size = mode === "formdata" ? await formDataToFiles(request) : await streamToFile(request);
    return Response.json({ code: 200, message: "success", data: { size } });
  },
});
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
