// The `{code, message, data}` answer envelope of the original email_server API.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { MailspoolError } from "../errors.js";

/** `schema` (the route's, which /openapi.json shows) types what `data` may be. */
export function success<T extends z.ZodType>(c: Context, _schema: T, data: z.infer<T>) {
  return c.json({ code: 200, message: "success", data });
}

export function failure(c: Context, error: MailspoolError) {
  const status = error.status as ContentfulStatusCode;
  if (error.code === "unauthorized") c.header("WWW-Authenticate", 'Bearer realm="mailspool"');
  if (error.retryAfterSeconds !== undefined) {
    c.header("Retry-After", String(error.retryAfterSeconds));
    return c.json({ code: status, message: error.message, data: { retryAfter: error.retryAfterSeconds } }, status);
  }
  if (error.allow) {
    c.header("Allow", error.allow.join(", "));
    return c.json({ code: status, message: error.message, data: { allow: error.allow } }, status);
  }
  return c.json({ code: status, message: error.message, data: error.errors ? { errors: error.errors } : null }, status);
}
