// One place for the methods a path takes: a known path asked with a method none of its
// routes takes gets 405 with `Allow` in the usual envelope (OPTIONS gets 204 with `Allow`);
// an unknown path falls through to the 404. Read from the app's own router, so it follows
// every route. A literal route wins over a pattern: GET /api/email/send is a 405 (the path
// names the send endpoint), not a status lookup of a mail called "send".
import type { Hono, MiddlewareHandler } from "hono";
import { METHODS } from "hono/router";
import { MailspoolError } from "../errors.js";
import type { AppEnv } from "./app-env.js";

const literal = (path: string) => !/[:*]/.test(path);

/** The methods the app's routes take at `path` (GET implies HEAD, as Hono answers it). */
export function methodsFor(app: Hono<AppEnv>, path: string): string[] {
  const routes = METHODS.flatMap((method) =>
    app.router.match(method.toUpperCase(), path)[0].map(([[, route]]) => route),
  ).filter((route) => route.method !== "ALL");
  const chosen = routes.some((r) => literal(r.path)) ? routes.filter((r) => literal(r.path)) : routes;
  const methods = new Set(chosen.map((route) => route.method));
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/** Paths whose methods are remembered (the routes do not change once the app serves). */
const cachedPaths = 512;

export function allowedMethods(app: Hono<AppEnv>): MiddlewareHandler<AppEnv> {
  // asking the router once per method is most of this middleware's cost: remember the
  // answer for recent paths (bounded; a path per mail id would otherwise grow it forever)
  const known = new Map<string, string[]>();
  const methodsAt = (path: string) => {
    let allow = known.get(path);
    if (!allow) {
      allow = methodsFor(app, path);
      if (known.size >= cachedPaths) known.clear();
      known.set(path, allow);
    }
    return allow;
  };
  return async function methodCheck(c, next) {
    const allow = methodsAt(c.req.path);
    if (allow.length && c.req.method === "OPTIONS") {
      c.header("Allow", [...allow, "OPTIONS"].join(", "));
      return c.body(null, 204);
    }
    if (allow.length && !allow.includes(c.req.method))
      throw new MailspoolError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`, { allow });
    await next();
  };
}
