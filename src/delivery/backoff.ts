// Exponential backoff with jitter between attempts: attempt n waits about
// base × 2^(n-1), capped at max, jittered into its upper half, never below base.

export interface RetryPolicy {
  attempts: number;
  baseSeconds: number;
  maxSeconds: number;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  return Math.round(Math.max(policy.baseSeconds, Math.min(policy.maxSeconds, jittered)) * 1000);
}
