// Access middleware: the CIDR allowlist (403) and named bearer tokens (401), compared in
// constant time; a matched token's scopes go on the client for ./token-scopes.ts.
// Loopback clients reach /health and /metrics without a token.
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
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
}

const digest = (value: string) => createHash("sha256").update(value).digest();

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
    const { tokens, tokenFreeFromLoopback } = parsedOptions;
    const { client, allowed } = verdict(parsedOptions, c.env?.remoteAddress, c.req.header("x-forwarded-for"));
    c.set("client", { ...client });
    if (!allowed) throw new MailspoolError("forbidden", "Client address is not allowed");
    if (tokens.length === 0) return next();
    if (client.loopback && tokenFreeFromLoopback.includes(c.req.path)) return next();
    const presented = bearerToken(c.req.header("authorization"));
    if (presented === undefined) throw new MailspoolError("unauthorized", "A bearer token is required");
    const candidate = digest(presented);
    let match: (typeof tokens)[number] | undefined;
    // no early exit: every token is compared, so the time taken does not say which one matched
    for (const token of tokens) if (timingSafeEqual(candidate, token.digest)) match = token;
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
    tokens: options.tokens.map((t) => ({ name: t.name, scopes: t.scopes, digest: digest(t.token) })),
    tokenFreeFromLoopback: options.tokenFreeFromLoopback,
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
