// The embedded outbox: with no upstream configured, "delivering" writes the message to
// <spool.dir>/outbox/<id>.eml (temp file, fsync, rename, directory fsync).
import fs from "node:fs";
import path from "node:path";
import { writeFileDurably } from "../../spool/fsync.js";
import type { OutgoingMessage, RecordTransaction, Transport } from "./transport.js";

export function outboxTransport(dir: string): Transport {
  return {
    name: "outbox",
    maxRecipientsPerEnvelope: Number.POSITIVE_INFINITY,
    async send(message: OutgoingMessage, record: RecordTransaction): Promise<void> {
      await writeFileDurably(path.join(dir, `${message.id}.eml`), message.raw);
      await record({
        transaction: {
          upstream: "outbox",
          envelope: message.envelope,
          code: 250,
          response: `written to outbox/${message.id}.eml`,
        },
        recipients: message.envelope.to.map((address) => ({ address, state: "sent" as const })),
      });
    },
    async verify() {
      await fs.promises.access(dir, fs.constants.W_OK);
    },
    async close() {},
  };
}
