// One conformance suite for every transport: the embedded outbox and SMTP (through the
// real test sink) must deliver a message to its envelope and report the transaction.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DailyCounter } from "../../src/delivery/daily-counter.js";
import { outboxTransport } from "../../src/delivery/transports/outbox.js";
import { smtpTransport } from "../../src/delivery/transports/smtp.js";
import type { TransactionResult, Transport } from "../../src/delivery/transports/transport.js";
import { createLogger } from "../../src/log.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir } from "../helpers/tmp-dir.js";

interface Backend {
  transport: Transport;
  delivered(id: string): Buffer[];
  dispose(): Promise<void>;
}

const backends: Record<string, () => Promise<Backend>> = {
  outbox: async () => {
    const dir = tmpDir();
    return {
      transport: outboxTransport(dir),
      delivered: (id) =>
        fs.existsSync(path.join(dir, `${id}.eml`)) ? [fs.readFileSync(path.join(dir, `${id}.eml`))] : [],
      dispose: async () => undefined,
    };
  },
  smtp: async () => {
    const sink: SmtpSink = await startSmtpSink();
    const transport = smtpTransport({
      upstreams: [
        {
          name: "sink",
          host: "127.0.0.1",
          port: sink.port,
          secure: false,
          requireTLS: false,
          user: "",
          pass: "",
          maxConnections: 1,
          ratePerSecond: 100,
          burst: 10,
          dailyLimit: 0,
        },
      ],
      batchSize: 20,
      connectTimeoutSeconds: 2,
      socketTimeoutSeconds: 2,
      daily: new DailyCounter("UTC"),
      log: createLogger("silent"),
    });
    return {
      transport,
      delivered: (id) => sink.messages.filter((m) => m.raw.includes(`<${id}@`)).map((m) => m.raw),
      dispose: async () => {
        await transport.close();
        await sink.close();
      },
    };
  },
};

describe.each(Object.keys(backends))("%s transport", (name) => {
  let backend: Backend;
  afterAll(async () => backend?.dispose());

  it("verifies, delivers the raw message to the envelope and reports one 250 transaction", async () => {
    backend = await backends[name]!();
    await backend.transport.verify();
    expect(backend.transport.maxRecipientsPerEnvelope).toBeGreaterThanOrEqual(20);
    const raw = Buffer.from("Message-ID: <m1@example.org>\r\nSubject: conformance\r\n\r\nbody ✓\r\n");
    const results: TransactionResult[] = [];
    await backend.transport.send(
      { id: "m1", envelope: { from: "relay@example.org", to: ["a@example.com", "b@example.com"] }, raw },
      async (r) => {
        results.push(r);
      },
    );
    expect(results).toHaveLength(1);
    expect(results[0]!.transaction.code).toBe(250);
    expect(results[0]!.transaction.envelope).toEqual({
      from: "relay@example.org",
      to: ["a@example.com", "b@example.com"],
    });
    expect(results[0]!.recipients).toEqual([
      { address: "a@example.com", state: "sent" },
      { address: "b@example.com", state: "sent" },
    ]);
    const delivered = backend.delivered("m1");
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.toString()).toContain("body ✓");
  });
});
