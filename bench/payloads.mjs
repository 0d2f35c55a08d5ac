// The two request bodies the bench sends, built once (deterministically) per run:
//  - multipart: ~4 KiB multipart/form-data: title, content (~1.5 KiB HTML), receiver and
//    ONE 2 KiB file part under attachment[] with a declared Content-Type
//  - json: a 2 KiB application/json send (no attachment)
// Both are valid sends: the relay answers 200 to each.

const receiver = "alice@example.com";
const title = "Monthly report — bench run";

/** Deterministic pseudo-random bytes (an LCG), so every run sends the same file. */
function fileBytes(size, seed = 0x2545f491) {
  const bytes = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** An HTML body of exactly `bytes` UTF-8 bytes (ASCII only, so bytes = characters). */
function html(bytes) {
  const head = "<html><body><h1>Monthly report</h1>";
  const tail = "</body></html>";
  const paragraphs = [];
  let i = 0;
  let body = "";
  while (head.length + body.length + tail.length < bytes) {
    i += 1;
    paragraphs.push(
      `<p>Line ${i}: the quick brown fox jumps over the lazy dog; <b>total</b> = ${i * 37} units, <a href='https://example.com/r/${i}'>details</a>.</p>`,
    );
    body = paragraphs.join("\n");
  }
  const text = head + body;
  return text.slice(0, bytes - tail.length) + tail;
}

function multipart() {
  const boundary = "----mailspoolBenchBoundary7MA4YWxkTrZu0gW";
  const field = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const file = fileBytes(2048);
  const body = Buffer.concat([
    Buffer.from(field("title", title) + field("content", html(1536)) + field("receiver", receiver)),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="attachment[]"; filename="report-2kib.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { name: "multipart", contentType: `multipart/form-data; boundary=${boundary}`, body, fileBytes: file.length };
}

function json() {
  const target = 2048;
  const base = { title, content: "", receiver, sender_name: "Reports", receiver_name: "Alice" };
  // newlines in the HTML are escaped in JSON (2 bytes each): shrink until it fits
  let size = target - Buffer.byteLength(JSON.stringify(base));
  let body = Buffer.from(JSON.stringify({ ...base, content: html(size) }));
  while (body.length > target) {
    size -= body.length - target;
    body = Buffer.from(JSON.stringify({ ...base, content: html(size) }));
  }
  return { name: "json", contentType: "application/json", body, fileBytes: 0 };
}

export function buildPayloads() {
  return [multipart(), json()];
}
