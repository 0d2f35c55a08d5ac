// Access middleware: the CIDR allowlist (403) and named bearer tokens (401), compared in
// constant time; a matched token's scopes go on the client for ./token-scopes.ts.
// Loopback clients reach /health and /metrics without a token. The console's pages take the
// token of their session cookie instead of a header (./console/session.ts).
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { TokenScope } from "../config-schema.js";
import { MailspoolError } from "../errors.js";
import type { AppEnv } from "./app-env.js";
import { bearerToken } from "./bearer-header.js";
import { clientAddress, inCidrs, parseAddress, parseCidrs, type ClientAddress } from "./client-address.js";

export interface AccessOptions {
  allow: readonly string[];
  trustProxy: readonly string[];
  tokens: readonly { name: string; token: string; scopes: readonly TokenScope[] }[];
  /** Paths that loopback clients may call without a token. */
  tokenFreeFromLoopback: readonly string[];
  /** Paths any allowed client may call without a token (the console's login form and its assets). */
  tokenFree?: (path: string) => boolean;
  /** The sha256 of the token a session cookie stands for, when the request has no Authorization header. */
  sessionToken?: (c: Context<AppEnv>) => Buffer | undefined;
}

export const tokenDigest = (value: string) => createHash("sha256").update(value).digest();

/** The configured token with this digest. Every token is compared: the time taken does not say which one matched. */
export function matchToken<T extends { digest: Buffer }>(tokens: readonly T[], candidate: Buffer): T | undefined {
  let match: T | undefined;
  for (const token of tokens) if (timingSafeEqual(candidate, token.digest)) match = token;
  return match;
}

/** `options` is read per request (SIGHUP swaps it); its parsed form is cached per object. */
export function accessControl(options: () => AccessOptions): MiddlewareHandler<AppEnv> {
  const parsed = new WeakMap<AccessOptions, ReturnType<typeof parse>>();
  const current = () => {
    const raw = options();
    let value = parsed.get(raw);
    if (!value) parsed.set(raw, (value = parse(raw)));
    return value;
  };

  return async function access(c, next) {
    const parsedOptions = current();
    const { tokens, tokenFreeFromLoopback, tokenFree, sessionToken } = parsedOptions;
    const { client, allowed } = verdict(parsedOptions, c.env?.remoteAddress, c.req.header("x-forwarded-for"));
    c.set("client", { ...client });
    if (!allowed) throw new MailspoolError("forbidden", "Client address is not allowed");
    if (tokens.length === 0) return next();
    if (client.loopback && tokenFreeFromLoopback.includes(c.req.path)) return next();
    if (tokenFree?.(c.req.path)) return next();
    const presented = bearerToken(c.req.header("authorization"));
    const candidate = presented === undefined ? sessionToken?.(c) : tokenDigest(presented);
    if (candidate === undefined) throw new MailspoolError("unauthorized", "A bearer token is required");
    const match = matchToken(tokens, candidate);
    if (!match) throw new MailspoolError("unauthorized", "Invalid token");
    c.set("client", { ...client, tokenName: match.name, scopes: match.scopes });
    return next();
  };
}

function parse(options: AccessOptions) {
  const allow = parseCidrs(options.allow);
  return {
    allow,
    allowWhenProxied: allow.filter(([range]) => range.range() !== "loopback"),
    trustProxy: parseCidrs(options.trustProxy),
    tokens: options.tokens.map((t) => ({ name: t.name, scopes: t.scopes, digest: tokenDigest(t.token) })),
    tokenFreeFromLoopback: options.tokenFreeFromLoopback,
    tokenFree: options.tokenFree,
    sessionToken: options.sessionToken,
    /** Recent (socket address, X-Forwarded-For) pairs → who the client is and whether it may call. */
    seen: new Map<string, { client: ClientAddress; allowed: boolean }>(),
  };
}

/** Remembered pairs per options object; a new config (SIGHUP) starts afresh. */
const seenPairs = 1024;

/** Who the client is and whether its address is allowed: the same answer for the same pair, so it is remembered. */
function verdict(options: ReturnType<typeof parse>, remote: string | undefined, forwardedFor: string | undefined) {
  const key = forwardedFor === undefined ? (remote ?? "") : `${remote ?? ""}\n${forwardedFor}`;
  let known = options.seen.get(key);
  if (!known) {
    const client = clientAddress(remote, forwardedFor, options.trustProxy);
    const address = parseAddress(client.ip);
    const allowed = !!address && inCidrs(address, client.proxied ? options.allowWhenProxied : options.allow);
    known = { client, allowed };
    // bounded: at most seenPairs keys of at most 256 characters (a long X-Forwarded-For is not kept)
    if (key.length > 256) return known;
    if (options.seen.size >= seenPairs) options.seen.clear();
    options.seen.set(key, known);
  }
  return known;
}
