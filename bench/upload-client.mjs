// The upload bench's client (bench/upload-rss.mjs runs it on core 1): `n` concurrent
// multipart POSTs to /api/email/send, each with one `fileBytes` attachment, sent with a
// Content-Length in 64 KiB writes that respect backpressure. Prints {ok, statuses}.
import http from "node:http";

const { url, n, fileBytes } = JSON.parse(process.argv[2]);
const boundary = "----uploadbench7MA4YWxkTrZu0gW";
const field = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const head = Buffer.from(
  field("title", "upload bench") +
    field("content", "<p>25 MB</p>") +
    field("receiver", "bench@example.com") +
    `--${boundary}\r\nContent-Disposition: form-data; name="attachment[]"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
);
const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
const file = Buffer.alloc(fileBytes);
for (let i = 0; i < fileBytes; i += 4) file.writeUInt32LE((i * 2654435761) >>> 0, i);
const target = new URL(`${url}/api/email/send`);

function upload() {
  return new Promise((resolve) => {
    const request = http.request({
      hostname: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      headers: {
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": head.length + file.length + tail.length,
      },
    });
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode));
    });
    request.on("error", () => resolve(0));
    request.write(head);
    let at = 0;
    const pump = () => {
      while (at < file.length) {
        const piece = file.subarray(at, at + 65536);
        at += piece.length;
        if (!request.write(piece)) return void request.once("drain", pump);
      }
      request.end(tail);
    };
    pump();
  });
}

const statuses = await Promise.all(Array.from({ length: n }, upload));
console.log(JSON.stringify({ ok: statuses.filter((s) => s === 200).length, statuses }));
