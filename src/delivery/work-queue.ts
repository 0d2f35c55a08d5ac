// What the worker pool takes mail ids from: the in-memory DeliveryQueue on one host, the
// broker's work queue in cluster mode (cluster/broker-queue.ts).
import type { MailId } from "../types.js";

export interface WorkQueue {
  push(id: MailId): void;
  /** Back to the head of the line (a worker that was paused while it waited). */
  pushFront(id: MailId): void;
  /** Due again at `at` (ms). */
  schedule(id: MailId, at: number): void;
  /** The next ready mail, or null once the queue is closed. */
  take(): Promise<MailId | null>;
  /** The worker is done with `id`: its outcome is recorded and its next time, if any, scheduled. */
  done?(id: MailId): Promise<void>;
  /** Delivery paused / resumed (the broker's queue stops consuming meanwhile). */
  pause?(): void;
  resume?(): void;
  close(): void;
}
