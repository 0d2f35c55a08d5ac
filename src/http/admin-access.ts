// admin.allow: who may call /admin/* (and /metrics). Applied after the server-wide access
// check, so an admin client must pass both; a proxied request never counts as loopback.
import type { MiddlewareHandler } from "hono";
import { MailspoolError } from "../errors.js";
import type { AppEnv } from "./app-env.js";
import { inCidrs, parseAddress, parseCidrs } from "./client-address.js";

export function adminAccess(allowList: readonly string[]): MiddlewareHandler<AppEnv> {
  const allow = parseCidrs(allowList);
  const allowWhenProxied = allow.filter(([range]) => range.range() !== "loopback");
  return async function adminAllow(c, next) {
    const client = c.get("client");
    const address = parseAddress(client.ip);
    if (!address || !inCidrs(address, client.proxied ? allowWhenProxied : allow)) {
      throw new MailspoolError("forbidden", "Client address is not allowed to use the admin API");
    }
    await next();
  };
}
