// Reads a request body without ever holding more than the limit: a declared
// Content-Length over it is refused before reading, and a chunked body is cut off
// (413) at the first chunk that crosses it.
import { MailspoolError } from "../errors.js";

export function tooLarge(limit: number): MailspoolError {
  return new MailspoolError("too_large", `Request body exceeds ${limit} bytes`);
}

export function checkDeclaredLength(request: Request, limit: number): void {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
}

export async function* limitedChunks(request: Request, limit: number): AsyncGenerator<Uint8Array> {
  checkDeclaredLength(request, limit);
  if (!request.body) return;
  const reader = request.body.getReader();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > limit) throw tooLarge(limit);
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export async function readLimitedBody(request: Request, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of limitedChunks(request, limit)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
