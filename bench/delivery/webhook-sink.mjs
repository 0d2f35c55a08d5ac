// A webhook receiver for the delivery bench: answers every POST 204 and, on SIGTERM, prints
// how many it got and how many distinct webhook-ids, as JSON.
//   taskset -c 1 node bench/delivery/webhook-sink.mjs 8787 &
//   DELIVERY_WEBHOOK_URL=http://127.0.0.1:8787/ node bench/delivery.mjs
import http from "node:http";

const ids = new Set();
let posts = 0;
const server = http.createServer((req, res) => {
  posts += 1;
  ids.add(req.headers["webhook-id"]);
  req.resume();
  req.on("end", () => res.writeHead(204).end());
});
server.listen(Number(process.argv[2] ?? 8787), "127.0.0.1");
process.on("SIGTERM", () => {
  process.stdout.write(`${JSON.stringify({ posts, distinct: ids.size })}\n`);
  process.exit(0);
});
