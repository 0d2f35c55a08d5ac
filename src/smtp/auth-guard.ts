// Failed SMTP AUTH: each failure is logged (user name and client address, never the
// password) and answered later the more often it happened on the connection; after
// `perConnection` failures the connection is closed (421). Each client address (an IPv6
// client by its /64) has a budget of `perAddress` failures per window that starts with
// its first failure: once spent, every AUTH from it is refused with 421, right password or
// not, until the window ends. A successful AUTH does not give failures back, so a client
// holding one valid account cannot reset the budget while it guesses another's password.
import ipaddr from "ipaddr.js";
import type { Logger } from "../log.js";

export interface AuthFailureLimits {
  perConnection: number;
  perAddress: number;
  windowSeconds: number;
}

export interface AuthClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export type AuthVerdict = { reply: 535 | 421; delayMs: number };

/** Delay of the answer to the n-th failure on a connection: 0.5 s, 1 s, 2 s, then 4 s. */
const delayFor = (failures: number) => Math.min(500 * 2 ** (failures - 1), 4000);
/** Addresses tracked at most; beyond this, windows that ended go first, then the oldest. */
const maxTrackedAddresses = 10_000;

interface AddressWindow {
  start: number;
  failures: number;
}

export class AuthGuard {
  private readonly perConnection = new WeakMap<object, number>();
  private readonly perAddress = new Map<string, AddressWindow>();

  constructor(
    private readonly limits: () => AuthFailureLimits,
    private readonly clock: AuthClock,
    private readonly log: Logger,
  ) {}

  /** Seconds until the address may try again when its budget is spent, else 0. */
  lockedFor(address: string): number {
    const window = this.current(addressKey(address));
    if (!window || window.failures < this.limits().perAddress) return 0;
    return Math.ceil((window.start + this.limits().windowSeconds * 1000 - this.clock.now()) / 1000);
  }

  /** Counts a failure of this connection (the session object) and says how to answer it. */
  failed(connection: object, address: string, user: string): AuthVerdict {
    const limits = this.limits();
    const onConnection = (this.perConnection.get(connection) ?? 0) + 1;
    this.perConnection.set(connection, onConnection);
    const key = addressKey(address);
    const window = this.current(key) ?? { start: this.clock.now(), failures: 0 };
    window.failures++;
    this.remember(key, window);
    this.log.warn(
      { user: user.slice(0, 100), address, failures: onConnection, addressFailures: window.failures },
      "smtp AUTH failed",
    );
    if (window.failures === limits.perAddress)
      this.log.warn(
        { address, seconds: Math.ceil((window.start + limits.windowSeconds * 1000 - this.clock.now()) / 1000) },
        "smtp AUTH failure budget spent: refusing AUTH from this address until its window ends",
      );
    const spent = onConnection >= limits.perConnection || window.failures >= limits.perAddress;
    return { reply: spent ? 421 : 535, delayMs: delayFor(onConnection) };
  }

  private current(key: string): AddressWindow | undefined {
    const window = this.perAddress.get(key);
    if (window && this.clock.now() - window.start < this.limits().windowSeconds * 1000) return window;
    this.perAddress.delete(key);
    return undefined;
  }

  private remember(key: string, window: AddressWindow): void {
    this.perAddress.delete(key);
    this.perAddress.set(key, window);
    if (this.perAddress.size <= maxTrackedAddresses) return;
    for (const other of [...this.perAddress.keys()]) this.current(other);
    if (this.perAddress.size > maxTrackedAddresses) this.perAddress.delete(this.perAddress.keys().next().value!);
  }
}

function addressKey(address: string): string {
  try {
    const parsed = ipaddr.process(address);
    if (parsed.kind() === "ipv4") return parsed.toString();
    return `${(parsed as ipaddr.IPv6).parts.slice(0, 4).join(":")}::/64`;
  } catch {
    return address;
  }
}
