// One HTTP/1.1 request written byte for byte on a plain TCP socket (for requests fetch
// refuses to make, such as oversized or malformed headers). Resolves with the parsed
// status and body, or status 0 when the server closed the connection without answering.
import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** The server closed (or reset) the connection without a complete answer. */
  closedWithoutAnswer: boolean;
}

/** `holdBodyMs`: wait this long for an early answer (e.g. 413 on the declared length) before sending the body. */
export function rawRequest(
  url: string,
  head: string,
  body: Buffer | string = "",
  timeoutMs = 10_000,
  holdBodyMs = 0,
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({
        status,
        headers: split < 0 ? text : text.slice(0, split),
        body: split < 0 ? "" : Buffer.from(text.slice(split + 4), "latin1").toString("utf8"),
        closedWithoutAnswer: status === 0,
      });
    };
    const timer = setTimeout(finish, timeoutMs);
    const expectContinue = /\r\nexpect:\s*100-continue/i.test(head);
    let continued: (() => void) | undefined;
    socket.on("data", (c: Buffer) => {
      if (continued && chunks.length === 0 && /^HTTP\/1\.[01] 100 /.test(c.toString("latin1"))) {
        const rest = c.subarray(c.indexOf("\r\n\r\n") + 4);
        const go = continued;
        continued = undefined;
        go();
        if (rest.length === 0) return;
        c = rest;
      }
      chunks.push(c);
      // stop once a Content-Length body is complete
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, split < 0 ? undefined : split))?.[1];
      if (split >= 0 && length !== undefined && Buffer.byteLength(text.slice(split + 4), "latin1") >= Number(length))
        finish();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", finish);
    // head and body go in 16 KiB pieces, a millisecond apart, and stop as soon as an answer
    // arrives, so an early answer (431 on a huge header, 413 on the declared length) is read
    // rather than lost: a write into a socket the server already closed fails (EPIPE) and
    // takes the unread answer with it
    const writeAll = async (bytes: Buffer) => {
      for (let at = 0; at < bytes.length && chunks.length === 0 && !settled; at += 16384) {
        if (!socket.write(bytes.subarray(at, at + 16384)))
          await new Promise((resolve) => socket.once("drain", resolve));
        if (at + 16384 < bytes.length) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    socket.on("connect", async () => {
      await writeAll(Buffer.from(head, "latin1"));
      // with Expect: 100-continue the body waits for "100 Continue"; a final answer instead ends it
      if (expectContinue) await new Promise<void>((resolve) => (continued = resolve));
      for (const until = Date.now() + holdBodyMs; Date.now() < until && chunks.length === 0 && !settled;)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await writeAll(typeof body === "string" ? Buffer.from(body) : body);
    });
  });
}
