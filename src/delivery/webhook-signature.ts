// Standard Webhooks signing (https://www.standardwebhooks.com): the headers `webhook-id`,
// `webhook-timestamp` (unix seconds) and `webhook-signature` = "v1," + base64 of
// HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed by the secret's bytes (what follows
// `whsec_`, base64-decoded). Any verifier library of the spec accepts them.
import { createHmac } from "node:crypto";

export function webhookHeaders(
  id: string,
  timestampSeconds: number,
  body: string,
  key: Buffer | null,
): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
  };
  if (key)
    headers["webhook-signature"] =
      `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
  return headers;
}
