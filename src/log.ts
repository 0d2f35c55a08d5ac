// The root pino logger: JSON lines to stdout. No worker-thread transports, which do not
// work inside the single executable; components take children of this logger.
//
// Secrets are masked as pino's `redact` paths `authorization`, `*.pass`, `*.token`,
// `*.password` and `*.authorization` would (a top-level key, or a key of a top-level
// object), by a formatter rather than `redact` itself: with wildcard paths pino runs its
// redactor over every top-level value of every line, which was a visible share of the
// CPU each accepted mail costs (its "mail accepted" line).
import diagnostics from "node:diagnostics_channel";
import pino, { type Logger } from "pino";

export type { Logger };

// pino skips its tracing wrapper (diagnostics_channel traceSync) for every line when
// `tracingChannel(...).hasSubscribers` is false; Bun's TracingChannel has no such property
// (undefined), so each line took the wrapper: about 40% of a "mail accepted" line's cost.
// Where it is missing, give it Node's meaning (any of its five channels has a subscriber).
{
  type Channel = { hasSubscribers: boolean };
  type Tracing = Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", Channel>;
  const proto = Object.getPrototypeOf(diagnostics.tracingChannel("mailspool-probe")) as object;
  if (!("hasSubscribers" in proto))
    Object.defineProperty(proto, "hasSubscribers", {
      configurable: true,
      get(this: Tracing) {
        return (
          this.start.hasSubscribers ||
          this.end.hasSubscribers ||
          this.asyncStart.hasSubscribers ||
          this.asyncEnd.hasSubscribers ||
          this.error.hasSubscribers
        );
      },
    });
}

const censor = "***";
const secretKeys = ["pass", "token", "password", "authorization", "privateKey"] as const;
const hasOwn = (value: object, key: string) => Object.prototype.hasOwnProperty.call(value, key);

/** `object` with secrets masked; the same object when it holds none (the usual case). */
export function maskSecrets<T extends Record<string, unknown>>(object: T): T {
  let masked: Record<string, unknown> | null = null;
  for (const key in object) {
    if (!hasOwn(object, key)) continue;
    const value = object[key];
    let replacement: unknown = value;
    if (key === "authorization" && value !== undefined) replacement = censor;
    else if (typeof value === "object" && value !== null) replacement = maskedChild(value);
    if (replacement !== value) (masked ??= { ...object })[key] = replacement;
  }
  return (masked ?? object) as T;
}

/** A copy of `value` (same prototype, so an Error stays one) with its secret keys masked, or `value` itself. */
function maskedChild(value: object): object {
  if (!secretKeys.some((key) => hasOwn(value, key))) return value;
  const copy = Object.create(Object.getPrototypeOf(value), Object.getOwnPropertyDescriptors(value)) as object;
  for (const key of secretKeys)
    if (hasOwn(copy, key))
      Object.defineProperty(copy, key, { value: censor, enumerable: true, writable: true, configurable: true });
  return copy;
}

export function createLogger(level: string, destination: pino.DestinationStream | number = 1): Logger {
  const stream = typeof destination === "number" ? pino.destination({ dest: destination, sync: false }) : destination;
  const root = pino(
    {
      level,
      base: { name: "mailspool" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: maskSecrets },
    },
    stream,
  );
  // a child's bindings are masked once, when it is made (children inherit this `child`)
  const child = root.child;
  root.child = function maskedChild(this: Logger, bindings, options) {
    return child.call(this, maskSecrets(bindings), options);
  } as typeof root.child;
  return root;
}

/**
 * Before the process exits: waits (at most 2 s) for the log line being written in the
 * background to reach fd 1, so the last lines (say, "shutdown complete") are not lost with
 * the process. A destination that stays blocked longer (a reader that stopped reading) is
 * left as it is rather than holding the exit.
 */
export async function flushLogger(log: Logger): Promise<void> {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { _writing?: unknown; once(event: "drain", listener: () => void): void } | undefined;
  if (stream?._writing !== true) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    stream.once("drain", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
