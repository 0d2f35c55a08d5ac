// admin.allow: who may call /admin/* (and /metrics). Applied after the server-wide access
// check, so an admin client must pass both; a proxied request never counts as loopback.
import type { MiddlewareHandler } from "hono";
import { MailspoolError } from "../errors.js";
import type { AppEnv } from "./app-env.js";
import { inCidrs, parseAddress, parseCidrs, type CidrList } from "./client-address.js";

/** `allowList` is read per request (SIGHUP swaps it). */
export function adminAccess(allowList: () => readonly string[]): MiddlewareHandler<AppEnv> {
  const parsed = new WeakMap<readonly string[], CidrList>();
  return async function adminAllow(c, next) {
    const list = allowList();
    let allow = parsed.get(list);
    if (!allow) parsed.set(list, (allow = parseCidrs(list)));
    const client = c.get("client");
    const address = parseAddress(client.ip);
    const ranges = client.proxied ? allow.filter(([range]) => range.range() !== "loopback") : allow;
    if (!address || !inCidrs(address, ranges))
      throw new MailspoolError("forbidden", "Client address is not allowed to use the admin API");
    await next();
  };
}
