// What the CLI prints goes to fd 1 synchronously. Under Bun, process.stdout.write to a
// pipe queues what the reader has not taken yet, and process.exit drops that queue: a
// `spool ls --json | slow-consumer` lost all but its first ~64 KiB. A blocking write
// cannot lose anything; a descriptor left non-blocking by the parent (EAGAIN) is waited on.
// A reader that went away (`| head`) ends the command quietly, as for any Unix filter.
import fs from "node:fs";

const pause = new Int32Array(new SharedArrayBuffer(4));

export function printOut(text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length;) {
    try {
      at += fs.writeSync(1, bytes, at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EPIPE") process.exit(0);
      if (code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
