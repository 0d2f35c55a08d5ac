// A fast SMTP sink for the delivery bench (plain Node; the runner pins it to core 1):
//
//   taskset -c 1 node bench/delivery/sink.mjs
//
// smtp-server on 127.0.0.1 (ephemeral port), no AUTH, no STARTTLS, no reverse DNS; it
// accepts every sender and recipient, discards message bodies (stream.resume()) and
// only counts messages, recipients and body bytes. Counters are read over a tiny HTTP
// endpoint on 127.0.0.1: GET /stats → JSON, POST /reset → zeroes them. With
// SINK_MESSAGE_IDS=1 it also reads each message's Message-ID from its header and counts
// `distinct` ids and `duplicates` (a second delivery of an id already seen).
// The first stdout line is {"smtpPort":…,"httpPort":…}. SIGTERM/SIGINT → exit.
import http from "node:http";
import { SMTPServer } from "smtp-server";

const now = () => performance.timeOrigin + performance.now(); // wall clock, sub-ms

const countIds = process.env.SINK_MESSAGE_IDS === "1";
const headerLimit = 64 * 1024;
let stats;
let seen;
function reset() {
  stats = { messages: 0, recipients: 0, bytes: 0, firstAt: null, lastAt: null, connections: 0, open: 0, errors: 0 };
  if (countIds) Object.assign(stats, { distinct: 0, duplicates: 0, withoutId: 0 });
  seen = new Set();
}

function countId(header) {
  const id = /^Message-ID:[ \t]*(<[^>\r\n]+>)/im.exec(header.toString("latin1"))?.[1];
  if (!id) stats.withoutId += 1;
  else if (seen.has(id)) stats.duplicates += 1;
  else {
    seen.add(id);
    stats.distinct += 1;
  }
}
reset();

const smtp = new SMTPServer({
  name: "sink.bench.local",
  banner: "bench sink",
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  hideSTARTTLS: true,
  disableReverseLookup: true,
  logger: false,
  maxClients: 1000,
  size: 0,
  onConnect(_session, callback) {
    stats.connections += 1;
    stats.open += 1;
    callback();
  },
  onClose() {
    stats.open -= 1;
  },
  onData(stream, session, callback) {
    let bytes = 0;
    const head = [];
    stream.on("data", (chunk) => {
      if (countIds && bytes < headerLimit) head.push(chunk);
      bytes += chunk.length;
    });
    stream.on("end", () => {
      const at = now();
      if (countIds) {
        const text = Buffer.concat(head);
        const end = text.indexOf("\r\n\r\n");
        countId(end >= 0 ? text.subarray(0, end) : text);
      }
      stats.messages += 1;
      stats.recipients += session.envelope.rcptTo.length;
      stats.bytes += bytes;
      stats.firstAt ??= at;
      stats.lastAt = at;
      callback(null, "2.0.0 Ok: queued");
    });
    stream.resume();
  },
});
smtp.on("error", () => (stats.errors += 1));

const api = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/reset") reset();
  else if (req.url !== "/stats") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
});

await new Promise((resolve) => smtp.listen(0, "127.0.0.1", resolve));
await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
process.stdout.write(`${JSON.stringify({ smtpPort: smtp.server.address().port, httpPort: api.address().port })}\n`);

const stop = () => {
  api.close();
  smtp.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
