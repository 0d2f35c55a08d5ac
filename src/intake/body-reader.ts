// Reads a request body without ever holding more than the limit: a declared
// Content-Length over it is refused before reading, and a chunked body is cut off (413)
// at the first chunk that crosses it. A body that cannot be read to its end (the client
// went away, the stream was aborted) is a 400 `body` here, for every encoding: it is the
// client's failure, not the relay's.
//
// Whenever reading stops early (413, or a 400 found mid-body), the rest of the body is
// read and thrown away for a bounded while before the answer goes out. Bun closes the
// connection after answering a request whose body was left unread, and a client still
// sending then gets a TCP reset that can destroy the answer it was about to read; once
// the body has been drained, the client reads the JSON answer. A client that stops and
// waits for an early answer (or sent Expect: 100-continue) is answered at once. Answers
// given before the body was touched at all (by any route) are drained the same way.
import { MailspoolError, invalidField } from "../errors.js";

export function tooLarge(limit: number): MailspoolError {
  return new MailspoolError("too_large", `Request body exceeds ${limit} bytes`);
}

/** How long and how much an unread body is drained before an early answer. */
export const drainLimits = { idleMs: 250, totalMs: 5_000, factor: 2 };

/**
 * The body's chunks, at most `limit` bytes in all. A body whose declared Content-Length is
 * at most `wholeUpTo` (and not chunked) is read in one go by the runtime and handed on as
 * one chunk: no stream reader and no promise per chunk, and the memory it takes is bounded
 * by `wholeUpTo` (the send route: a JSON or urlencoded body is collected whole anyway; a
 * multipart one streams whenever it is larger than a small window).
 */
export async function* limitedChunks(request: Request, limit: number, wholeUpTo = 0): AsyncGenerator<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (Number(declared ?? "0") > limit) {
    await drainUnread(request, limit);
    throw tooLarge(limit);
  }
  if (!request.body) return;
  if (declared !== null && Number(declared) <= wholeUpTo && !request.headers.has("transfer-encoding")) {
    const whole = new Uint8Array(await request.arrayBuffer().catch(unreadable));
    if (whole.byteLength > limit) throw tooLarge(limit);
    if (whole.byteLength > 0) yield whole;
    return;
  }
  const reader = request.body.getReader();
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch(unreadable);
      if (done) {
        finished = true;
        return;
      }
      total += value.byteLength;
      if (total > limit) throw tooLarge(limit);
      yield value;
    }
  } finally {
    if (!finished) await drain(reader, limit * drainLimits.factor - total);
  }
}

function unreadable(error: unknown): never {
  throw invalidField("body", `the request body could not be read to its end: ${(error as Error)?.message ?? error}`);
}

/** The whole body (at most `limit` bytes): one read when its length is declared, else chunk by chunk. */
export async function readLimitedBody(request: Request, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of limitedChunks(request, limit, limit)) chunks.push(chunk);
  if (chunks.length === 1) return Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength);
  return Buffer.concat(chunks);
}

/** A body nobody read (an answer given at the headers: 401, 413, 415, 503 …) is drained like an early answer. */
export async function drainUnread(request: Request, limit: number): Promise<void> {
  if (!request.body || request.bodyUsed || request.body.locked) return;
  const declared = Number(request.headers.get("content-length") ?? "0");
  const waits = /100-continue/i.test(request.headers.get("expect") ?? "");
  if (waits || declared > limit * drainLimits.factor) return;
  await drain(request.body.getReader(), limit * drainLimits.factor);
}

/**
 * Reads and discards until the body ends, `maxBytes` were read, the client pauses or time
 * runs out; cancels only a body that did not end (Bun drops a kept-alive connection whose
 * finished body was cancelled, and the client's next request on it fails).
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<void> {
  const deadline = Date.now() + drainLimits.totalMs;
  let drained = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    while (drained <= maxBytes) {
      const wait = Math.min(drainLimits.idleMs, deadline - Date.now());
      if (wait <= 0) break;
      const next = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => (timer = setTimeout(resolve, wait, null))),
      ]);
      clearTimeout(timer);
      if (next?.done) return;
      if (!next) break;
      drained += next.value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the client went away: nothing left to drain
  } finally {
    clearTimeout(timer);
  }
}
