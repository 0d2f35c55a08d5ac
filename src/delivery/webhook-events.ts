// What an event webhook carries, and who gets it. A subscription from `webhooks:` gets
// Standard Webhooks' shape {type, timestamp, data} with the mail's state, recipients (with
// states and last errors) and, when the mail has them, its tags and metadata (read from the
// accepted record, as the status API reads them). failed.notify.webhook is a subscription
// to `partial` and `failed` that keeps its first payload, {id, state, recipients}, unsigned.
import type { Config } from "../config.js";
import type { WEBHOOK_EVENTS } from "../config-schema.js";
import { webhookSecretBytes } from "../config-values.js";
import type { MailEntry } from "../spool/mail-index.js";
import type { Mail } from "../types.js";

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookSubscription {
  url: string;
  events: readonly WebhookEventType[];
  /** The HMAC key (the secret's bytes); null: sent unsigned (failed.notify.webhook). */
  key: Buffer | null;
  maxAgeHours: number;
  /** failed.notify.webhook's own payload, kept for the receivers written for it. */
  legacy: boolean;
}

const shorthandMaxAgeHours = 24;

export function webhookSubscriptions(config: Config): WebhookSubscription[] {
  const subscriptions = config.webhooks.map((w): WebhookSubscription => ({
    url: w.url,
    events: w.events,
    key: webhookSecretBytes(w.secret) as Buffer,
    maxAgeHours: w.maxAgeHours,
    legacy: false,
  }));
  const shorthand = config.failed.notify.webhook;
  if (shorthand)
    subscriptions.push({
      url: shorthand,
      events: ["partial", "failed"],
      key: null,
      maxAgeHours: shorthandMaxAgeHours,
      legacy: true,
    });
  return subscriptions;
}

/** What a mail's event says of it; built when the outcome is known, so later changes do not leak in. */
export function eventData(entry: MailEntry) {
  const last = entry.attempts.at(-1);
  return {
    id: entry.id,
    state: entry.state,
    subject: entry.subject,
    acceptedAt: entry.acceptedAt,
    attempts: entry.attempts.length,
    nextAttemptAt: entry.nextAttemptAt ?? null,
    error: last?.error ?? null,
    recipients: entry.recipients.map((r) => ({
      address: r.address,
      kind: r.kind,
      state: r.state,
      lastError: r.lastError ?? null,
    })),
  };
}

/** The mail's tags and metadata, when it has them (stored at intake in the accepted record). */
export function labelsOf(mail: Mail): Pick<Mail, "tags" | "metadata"> {
  const { tags, metadata } = mail;
  return { ...(tags?.length ? { tags } : {}), ...(metadata && Object.keys(metadata).length ? { metadata } : {}) };
}

export function eventPayload(
  event: string,
  type: WebhookEventType,
  data: ReturnType<typeof eventData>,
  mail: Mail,
  at: Date,
): unknown {
  return { id: event, type: `mail.${type}`, timestamp: at.toISOString(), data: { ...data, ...labelsOf(mail) } };
}

export function legacyPayload(data: ReturnType<typeof eventData>): unknown {
  return {
    id: data.id,
    state: data.state,
    recipients: data.recipients.map(({ address, state, lastError }) => ({ address, state, lastError })),
  };
}
