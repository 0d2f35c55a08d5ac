// The mail content shared by the delivery bench's spool generator (make-spool.ts) and its
// raw-nodemailer baseline (raw-pool.mjs), both run by Bun, so both sides send the same bytes:
// one subject, a ~1.5 KiB HTML body, recipients r{i}@example.com, and optionally one
// 2 KiB attachment (deterministic bytes, so every run sends the same file).

export const from = "bench@example.org";
export const subject = "Monthly report — delivery bench";
export const htmlBytes = 1536;
export const attachmentName = "report-2kib.pdf";
export const attachmentType = "application/pdf";
export const attachmentBytes = 2048;

/** An HTML body of exactly `bytes` characters (ASCII; single-quoted attributes, so no JSON escaping of quotes). */
export function html(bytes = htmlBytes): string {
  const head = "<html><body><h1>Monthly report</h1>";
  const tail = "</body></html>";
  const paragraphs: string[] = [];
  let i = 0;
  let body = "";
  while (head.length + body.length + tail.length < bytes) {
    i += 1;
    paragraphs.push(
      `<p>Line ${i}: the quick brown fox jumps over the lazy dog; <b>total</b> = ${i * 37} units, <a href='https://example.com/r/${i}'>details</a>.</p>`,
    );
    body = paragraphs.join("\n");
  }
  return (head + body).slice(0, bytes - tail.length) + tail;
}

/** Deterministic pseudo-random bytes (an LCG). */
export function fileBytes(size = attachmentBytes, seed = 0x2545f491): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** Recipient addresses of mail number `mail` (0-based) when every mail has `per` recipients. */
export function recipientsOf(mail: number, per: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < per; j++) out.push(`r${mail * per + j}@example.com`);
  return out;
}
