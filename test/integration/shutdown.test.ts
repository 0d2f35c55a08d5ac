// SIGTERM while everything is stuck, on the real binary: an upstream that never answers
// the final dot (long socketTimeoutSeconds), an HTTP client holding half a body, an SMTP
// intake client that never ends its DATA, a FIFO in pickup/. With graceSeconds 2 the
// process must exit 0 within grace + a small margin, name what was stuck, and lose no
// acknowledged mail: after a restart every 200's mail is there and gets delivered. And
// in-process, an fdatasync that never returns: stop() still ends by the deadline and says
// the spool writer did not close.
import { spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { nodeSegmentIo } from "../../src/spool/segment.js";
import { drainSeconds } from "../../src/server-shutdown.js";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import { deliveryYaml, startInProcess } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SinkMessage, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const graceSeconds = 2;
/** What the relay may take beyond the grace period when only grace-level work is stuck. */
const marginMs = 5_000;

const open: { relays: RelayProcess[]; sinks: SmtpSink[]; sockets: net.Socket[] } = {
  relays: [],
  sinks: [],
  sockets: [],
};
afterEach(async () => {
  for (const socket of open.sockets.splice(0)) socket.destroy();
  await Promise.all(open.relays.splice(0).map((r) => r.kill()));
  await Promise.all(open.sinks.splice(0).map((s) => s.close()));
});

/** A raw SMTP client: each reply is answered with the next command; after the last reply (354), `data` is sent and never ended. */
function smtpUnfinishedData(port: number, commands: string[], data: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    open.sockets.push(socket);
    const queue = [...commands];
    let buffered = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      // a complete reply ends with "NNN text\r\n" (no dash after the code)
      if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buffered)) return;
      if (!/^[23]/.test(buffered.split("\r\n").at(-2)!)) return reject(new Error(`smtp intake said ${buffered}`));
      buffered = "";
      const next = queue.shift();
      if (next !== undefined) return void socket.write(`${next}\r\n`);
      socket.write(data);
      resolve(socket);
    });
  });
}

function holdHalfABody(url: string): net.Socket {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ title: "slow", content: "<p>slow</p>", receiver: "slow@example.com" });
  const socket = net.connect(Number(port), hostname, () => {
    socket.write(
      `POST /api/email/send HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.slice(0, 10));
  });
  socket.on("error", () => undefined);
  open.sockets.push(socket);
  return socket;
}

it("SIGTERM with a hung upstream, a half-sent HTTP body, an unfinished SMTP DATA and a FIFO: exits 0 in time, loses nothing", async () => {
  const hung: SinkMessage[] = [];
  const sink = await startSmtpSink({
    onData: (message) => {
      hung.push(message);
      return "hang";
    },
  });
  open.sinks.push(sink);
  const dir = tmpDir();
  writeConfig(
    dir,
    [
      "shutdown:",
      `  graceSeconds: ${graceSeconds}`,
      "smtpIntake:",
      "  enabled: true",
      '  listen: "127.0.0.1:0"',
      "  requireAuth: false",
      deliveryYaml(sink.port, ["  from: relay@example.org", "  socketTimeoutSeconds: 600"]),
    ].join("\n"),
  );
  const relay = await startRelay({ cwd: dir });
  open.relays.push(relay);
  const smtpPort = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(relay.output())![1]);

  const acknowledged: string[] = [];
  for (const n of [1, 2, 3]) {
    const answer = await post(
      relay.url,
      JSON.stringify({ title: `t${n}`, content: "<p>x</p>", receiver: `r${n}@example.com` }),
      {
        "content-type": "application/json",
      },
    );
    expect(answer.status).toBe(200);
    acknowledged.push(answer.body.data.id);
  }
  await waitFor(() => hung.length >= 1, 10_000, "a delivery hanging after DATA");
  holdHalfABody(relay.url);
  await smtpUnfinishedData(
    smtpPort,
    ["EHLO client.example", "MAIL FROM:<app@example.com>", "RCPT TO:<x@example.com>", "DATA"],
    "Subject: never ends\r\n\r\nfirst line\r\n",
  );
  expect(spawnSync("mkfifo", [path.join(dir, "data/pickup/x.json")]).status).toBe(0);

  const started = Date.now();
  const code = await relay.stop();
  const elapsedMs = Date.now() - started;
  console.log(`SIGTERM while stuck (graceSeconds ${graceSeconds}): exited ${code} after ${elapsedMs} ms`);
  open.relays.pop();
  expect(code).toBe(0);
  expect(elapsedMs).toBeLessThan(graceSeconds * 1000 + marginMs);
  // the half-sent body holds its request past the deadline; the log names it
  expect(relay.output()).toMatch(/"stuck":\[[^\]]*"http requests"[^\]]*\][^\n]*shutdown deadline passed/);

  sink.behaviour.onData = undefined;
  const restarted = await startRelay({ cwd: dir });
  open.relays.push(restarted);
  for (const id of acknowledged)
    await waitFor(
      async () => (await get(restarted.url, `/api/email/${id}`)).body.data?.state === "sent",
      15_000,
      `acknowledged mail ${id} delivered after the restart`,
    );
  expect(new Set(sink.messages.flatMap((m) => m.to))).toEqual(
    new Set(["r1@example.com", "r2@example.com", "r3@example.com"]),
  );
  expect(await restarted.stop()).toBe(0);
  open.relays.pop();
  const fsck = runCli(["fsck", "-c", "app.yaml"], dir);
  expect(fsck.stdout + fsck.stderr).not.toMatch(/temp-file|orphan|corrupt|torn/);
  expect(fsck.code).toBe(0);
});

it("a stuck fdatasync: stop() ends at grace + drainSeconds and reports the spool writer as not closed", async () => {
  let release = () => {};
  const stuck = new Promise<void>((resolve) => (release = resolve));
  let hang = false;
  let hanging = false;
  const io = {
    write: nodeSegmentIo.write,
    fdatasync: async (fd: number) => {
      hanging = hang;
      if (hang) await stuck;
      return nodeSegmentIo.fdatasync(fd);
    },
  };
  const relay = await startInProcess("shutdown:\n  graceSeconds: 1\n", { io });
  const aborted = new AbortController();
  try {
    hang = true;
    const pending = fetch(`${relay.url}/api/email/send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "t", content: "c", receiver: "a@example.com" }),
      signal: aborted.signal,
    }).catch(() => undefined);
    await waitFor(() => hanging, 5_000, "the request's fdatasync in flight");
    const started = Date.now();
    const report = await relay.stop();
    const elapsedMs = Date.now() - started;
    console.log(`stuck fdatasync: stop() returned after ${elapsedMs} ms with ${JSON.stringify(report)}`);
    expect(report.spoolClosed).toBe(false);
    expect(report.stuck).toContain("spool writer");
    expect(elapsedMs).toBeGreaterThanOrEqual(1_000 + drainSeconds * 1000 - 50);
    expect(elapsedMs).toBeLessThan(1_000 + drainSeconds * 1000 + 3_000);
    aborted.abort();
    await pending;
  } finally {
    release();
  }
});
