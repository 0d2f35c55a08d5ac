// Paces SMTP transactions per upstream: `burst` tokens to start with, refilled
// continuously at `ratePerSecond` (fractions allowed), never above `burst`.
//
// Waiting takers reserve instead of queueing: `take` removes its token at once, letting
// the balance go negative, and sleeps until the refill has paid that debt back. Each
// reservation lands behind the ones before it, so concurrent takers are served in call
// order and together never exceed the rate, with no waiter list to wake or clean up.
// `tryTake` never reserves, so it cannot jump ahead of waiting takers.

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private ratePerSecond: number;
  private burst: number;

  constructor(
    private readonly fullRate: number,
    private readonly fullBurst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(fullRate > 0)) throw new RangeError(`ratePerSecond must be positive, got ${fullRate}`);
    if (!(fullBurst >= 1)) throw new RangeError(`burst must be at least 1, got ${fullBurst}`);
    this.ratePerSecond = fullRate;
    this.burst = fullBurst;
    this.tokens = fullBurst;
    this.updatedAt = now();
  }

  /** This bucket's share of the limit (cluster mode: 1 / the hosts delivering); burst never below 1. */
  share(fraction: number): void {
    this.refill();
    this.ratePerSecond = this.fullRate * fraction;
    this.burst = Math.max(1, this.fullBurst * fraction);
    this.tokens = Math.min(this.tokens, this.burst);
  }

  /** Tokens now (fractional; negative while takers are waiting on reservations). */
  get available(): number {
    return this.balanceAt(this.now());
  }

  /** Takes a token if one is available: returns 0; otherwise takes nothing and returns the ms until one will be. */
  tryTake(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return this.msUntilBalance(1);
  }

  /** Waits (with the injected sleep) until a token is taken; returns the total ms waited. */
  async take(sleep: (ms: number) => Promise<void> = defaultSleep): Promise<number> {
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    const waitMs = this.msUntilBalance(0);
    await sleep(waitMs);
    return waitMs;
  }

  private balanceAt(at: number): number {
    const elapsedMs = Math.max(0, at - this.updatedAt);
    return Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
  }

  private refill(): void {
    const at = this.now();
    this.tokens = this.balanceAt(at);
    this.updatedAt = Math.max(this.updatedAt, at);
  }

  /** Rounded up, so that after waiting this long the balance has really been reached. */
  private msUntilBalance(target: number): number {
    return Math.ceil(((target - this.tokens) * 1000) / this.ratePerSecond);
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
