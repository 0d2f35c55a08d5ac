// Idempotency in cluster mode, on a real spool: a key found on a queued mail another host
// accepted moments ago (here: accepted straight into the spool, as a copied record is) is
// answered only once that host can no longer cancel it; a cancel that frees the key meanwhile
// makes the repeat a new mail. A key this host answered itself repeats at once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newUlid } from "../ids.js";
import { createLogger } from "../log.js";
import { Spool } from "../spool/spool.js";
import type { Mail, MailId } from "../types.js";
import { Idempotency } from "./idempotency.js";

const log = createLogger("silent");
let dataDir: string;
let spool: Spool;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-idempotency-"));
  spool = Spool.open({ dataDir, log, minFreeBytes: -1 });
});
afterEach(async () => {
  await spool.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const mail: Mail = {
  subject: "s",
  html: "<p>h</p>",
  to: [{ address: "a@x.test" }],
  cc: [],
  bcc: [],
  attachments: [],
  messageId: "<m@x.test>",
};

/** A mail another host accepted under `key` (its copied accepted record). */
async function acceptedElsewhere(key: string): Promise<MailId> {
  const id = newUlid();
  await spool.accept(id, mail, "test", { key, requestHash: "h" });
  return id;
}

/** What accept() does on this host: a new mail under the key. */
const acceptHere = (key: string) => async () => {
  const id = newUlid();
  await spool.accept(id, mail, "test", { key, requestHash: "h" });
  return id;
};

describe("Idempotency in cluster mode", () => {
  it("answers a key on another host's young mail once that host can no longer cancel it", async () => {
    const idempotency = new Idempotency(spool.index, Date.now, 1500);
    const earlier = await acceptedElsewhere("k1");
    const started = Date.now();
    const answer = await idempotency.run("k1", "h", acceptHere("k1"));
    expect(answer).toEqual({ id: earlier, repeated: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  });

  it("takes the repeat as a new mail when the other host cancelled the first and freed its key meanwhile", async () => {
    const idempotency = new Idempotency(spool.index, Date.now, 5000);
    const earlier = await acceptedElsewhere("k2");
    const answer = idempotency.run("k2", "h", acceptHere("k2"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await spool.append({ type: "cancel", id: earlier, reason: "the broker did not confirm it", releasesKey: "k2" });
    const { id, repeated } = await answer;
    expect(repeated).toBe(false);
    expect(id).not.toBe(earlier);
    expect(spool.index.byIdempotencyKey("k2", new Date(0))).toBe(id);
  });

  it("repeats at once a key this host answered, a mail no longer queued, and any key on a single host", async () => {
    const cluster = new Idempotency(spool.index, Date.now, 60_000);
    const first = await cluster.run("k3", "h", acceptHere("k3"));
    const started = Date.now();
    expect(await cluster.run("k3", "h", acceptHere("k3"))).toEqual({ id: first.id, repeated: true });
    const cancelled = await acceptedElsewhere("k4");
    await spool.append({ type: "cancel", id: cancelled, reason: "by hand" });
    expect(await cluster.run("k4", "h", acceptHere("k4"))).toEqual({ id: cancelled, repeated: true });
    const single = new Idempotency(spool.index, Date.now);
    const elsewhere = await acceptedElsewhere("k5");
    expect(await single.run("k5", "h", acceptHere("k5"))).toEqual({ id: elsewhere, repeated: true });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
