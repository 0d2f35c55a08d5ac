// The load generator: one autocannon run against POST /api/email/send, launched by
// bench/run.mjs under `taskset -c 1`. Usage: node bench/load.mjs <job.json>
// job: { url, bodyFile, contentType, connections, seconds }
//
// A time-bounded run that ends by DRAINING, not by cutting connections: after `seconds`,
// every connection finishes the request it has in flight and then closes (autocannon's
// per-client responseMax, set through its setupClient hook, is lowered to the requests
// already made). So every request sent is answered and counted, and the 2xx count can be
// compared 1:1 with the spool's accepted records. If draining does not finish within
// 10 s (a hung server), autocannon is stopped the ordinary way and `drained` is false.
// Prints one JSON line with the figures on stdout.
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const body = fs.readFileSync(job.bodyFile);
const clients = [];
const drainGraceSeconds = 10;

process.stdout.write("start\n"); // the runner samples the server's CPU time from here
const cpuBefore = process.cpuUsage();
const started = performance.now();
let lastResponse = started;
let drained = true;

const instance = autocannon(
  {
    url: `${job.url}/api/email/send`,
    method: "POST",
    headers: { "content-type": job.contentType },
    body,
    connections: job.connections,
    pipelining: 1,
    timeout: 30,
    sampleInt: 100, // autocannon reports at its next sample tick after the drain: keep that short
    duration: job.seconds + drainGraceSeconds, // backstop only; the drain below ends the run
    setupClient: (client) => clients.push(client),
  },
  (error, result) => {
    clearTimeout(drainTimer);
    clearTimeout(backstop);
    if (error) {
      process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
      process.exit(1);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const elapsedMs = lastResponse - started; // start → last response (autocannon's own duration rounds up to its 1 s tick)
    const ok = result["2xx"];
    process.stdout.write(
      `${JSON.stringify({
        ok2xx: ok,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodes: result.statusCodeStats,
        sent: result.totalRequests,
        completed: result.totalCompletedRequests,
        elapsedMs,
        rps: elapsedMs > 0 ? (ok * 1000) / elapsedMs : 0,
        latency: {
          p50: result.latency.p50,
          p90: result.latency.p90,
          p99: result.latency.p99,
          avg: result.latency.average,
          max: result.latency.max,
        },
        genCpuPct: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
        drained,
        perSecond: Array.from(perSecond, (n) => n ?? 0),
      })}\n`,
    );
  },
);
const perSecond = []; // responses per 1 s slice of the run, to show how steady it was
instance.on("response", () => {
  lastResponse = performance.now();
  const slice = Math.floor((lastResponse - started) / 1000);
  perSecond[slice] = (perSecond[slice] ?? 0) + 1;
});

const drainTimer = setTimeout(() => {
  for (const client of clients) {
    if (typeof client.reqsMade !== "number") drained = false;
    // the next _doRequest after the in-flight response sees reqsMade >= responseMax and closes the client
    else client.responseMax = Math.max(1, client.reqsMade);
  }
}, job.seconds * 1000);
const backstop = setTimeout(
  () => {
    drained = false;
    instance.stop();
  },
  (job.seconds + drainGraceSeconds - 1) * 1000,
);
