// What the relay declares on the broker, all under broker.prefix: the journal (a fanout
// exchange every host's own queue is bound to: every record any host writes reaches every
// host), the work queue (a mail id to deliver, taken by one host), the delay queues that
// hold a retry or a scheduled mail without a consumer (their TTL dead-letters it back to
// the work queue). These are quorum queues, durable and replicated; a host's journal queue
// expires after a week without its host (one that left for good). The leader queue is
// different: an exclusive classic queue that lives with the connection of the host that
// declared it (leadership.ts).
import type { Channel } from "amqplib";

/** Delay queues hold 2^k seconds, k = 0 … 22 (48 days, past delivery.maxScheduleDays' bound). */
export const delayLevels = Array.from({ length: 23 }, (_, k) => 2 ** k);

export interface Topology {
  journal: string;
  journalQueue: string;
  work: string;
  leader: string;
  delayQueue(seconds: number): string;
}

export function topology(prefix: string, host: string): Topology {
  return {
    journal: `${prefix}.journal`,
    journalQueue: `${prefix}.journal.${host}`,
    work: `${prefix}.work`,
    leader: `${prefix}.leader`,
    delayQueue: (seconds) => `${prefix}.delay.${seconds}s`,
  };
}

const quorum = { "x-queue-type": "quorum" };
/** A host's journal queue is removed after this long without a consumer (a host gone for good). */
const journalQueueExpiresMs = 7 * 24 * 3_600_000;

export async function declareTopology(channel: Channel, names: Topology): Promise<void> {
  await channel.assertExchange(names.journal, "fanout", { durable: true });
  await channel.assertQueue(names.journalQueue, {
    durable: true,
    arguments: { ...quorum, "x-expires": journalQueueExpiresMs },
  });
  await channel.bindQueue(names.journalQueue, names.journal, "");
  await channel.assertQueue(names.work, { durable: true, arguments: quorum });
  for (const seconds of delayLevels)
    await channel.assertQueue(names.delayQueue(seconds), {
      durable: true,
      arguments: {
        ...quorum,
        "x-message-ttl": seconds * 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.work,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      },
    });
}

/** The longest delay level not past `ms` (the work consumer sends a mail that arrives early on for the rest). */
export function delayLevelFor(ms: number): number {
  const seconds = Math.max(1, Math.floor(ms / 1000));
  return [...delayLevels].reverse().find((level) => level <= seconds) ?? 1;
}
