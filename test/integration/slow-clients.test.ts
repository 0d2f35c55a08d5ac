// 300 connections that send half a request header must not keep other clients from
// sending (Bun's event loop; on Node, headersTimeout), on both runtimes.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { startRelay } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

describe.each(["binary", "bundle"] as const)("slow clients (%s)", (runtime) => {
  it("serves a normal send while 300 connections hold half a header", async () => {
    const relay = await startRelay({ cwd: tmpDir(), runtime });
    const { hostname, port } = new URL(relay.url);
    const sockets: net.Socket[] = [];
    try {
      await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<void>((resolve) => {
              const socket = net.connect(Number(port), hostname, () => {
                socket.write("POST /api/email/send HTTP/1.1\r\nHost: relay\r\nContent-Ty");
                resolve();
              });
              socket.on("error", () => resolve());
              sockets.push(socket);
            }),
        ),
      );
      const started = Date.now();
      const answer = await post(
        relay.url,
        new URLSearchParams({ title: "t", content: "c", receiver: "a@example.com" }).toString(),
        { "content-type": "application/x-www-form-urlencoded" },
      );
      expect(answer.status).toBe(200);
      console.log(
        `slow clients (${runtime}): a send with 300 half-header connections open answered in ${Date.now() - started} ms`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      expect(await relay.stop()).toBe(0);
    }
  });
});
