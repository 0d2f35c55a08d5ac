// mailspool healthcheck on the real binary against a running relay (found from the config
// and MAILSPOOL_LISTEN like the container's), one that cannot accept (503), a stopped one,
// one that never answers, and usage errors.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("healthcheck", () => {
  it("exits 0 for a running relay found from the config (a wildcard listen asked on loopback), 1 once it stopped", async () => {
    const dir = tmpDir();
    const env = { MAILSPOOL_LISTEN: `0.0.0.0:${await freePort()}` };
    const relay = await startRelay({ cwd: dir, env });
    const port = new URL(relay.url).port;
    try {
      const result = runCli(["healthcheck"], dir, env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`mailspool: healthy: http://127.0.0.1:${port}/health answered 200 (ok)\n`);
      const byUrl = runCli(["healthcheck", "--url", `http://127.0.0.1:${port}`], tmpDir());
      expect(byUrl.code).toBe(0);
      expect(byUrl.stdout).toContain(`http://127.0.0.1:${port}/health answered 200`);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    const stopped = runCli(["healthcheck"], dir, env);
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toBe("");
    expect(stopped.stderr).toBe(
      `mailspool: unhealthy: http://127.0.0.1:${port}/health: connection refused (is mailspool serve running?)\n`,
    );
  });

  it("exits 1 when the relay answers 503 (its disk reserve is not there)", async () => {
    const dir = tmpDir();
    const port = await freePort();
    writeConfig(dir, `server: { listen: "127.0.0.1:${port}" }\nspool: { minFreeBytes: 1000000000000000 }\n`);
    const relay = await startRelay({ cwd: dir, env: { MAILSPOOL_LISTEN: "" } });
    try {
      const result = runCli(["healthcheck", "-c", "app.yaml"], dir, { MAILSPOOL_LISTEN: "" });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^mailspool: unhealthy: http://127\\.0\\.0\\.1:${port}/health answered 503 \\(degraded[^)]*\\): the relay cannot accept mail\\n$`,
        ),
      );
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it("gives up after --timeout on a server that never answers", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const result = runCli(["healthcheck", "--url", `http://127.0.0.1:${port}/health`, "--timeout", "1"], tmpDir());
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`mailspool: unhealthy: http://127.0.0.1:${port}/health: no answer within 1 s\n`);
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("says what is wrong with its own arguments and config", () => {
    const dir = tmpDir();
    for (const args of [
      ["--timeout", "soon"],
      ["--timeout", "0"],
      ["--url", "ftp://127.0.0.1/"],
      ["--url", "not a url"],
    ]) {
      const result = runCli(["healthcheck", ...args], dir);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(/error: option .* argument .* is invalid/);
    }
    const anyPort = runCli(["healthcheck"], dir, { MAILSPOOL_LISTEN: "127.0.0.1:0" });
    expect(anyPort.code).toBe(1);
    expect(anyPort.stderr).toContain("server.listen 127.0.0.1:0 has port 0 (any free port): give --url");
    expect(runCli(["healthcheck", "--help"], dir).stdout).toContain("--url <url>");
  });
});
