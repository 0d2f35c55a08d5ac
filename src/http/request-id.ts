// Echoes a sane X-Request-Id or makes one, for the logs and the response.
import type { MiddlewareHandler } from "hono";
import { newUlid as ulid } from "../ids.js";
import type { AppEnv } from "./app-env.js";

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const given = c.req.header("x-request-id");
    const id = given && /^[\w.:-]{1,128}$/.test(given) ? given : ulid();
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    await next();
  };
}
