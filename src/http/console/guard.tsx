/** @jsxImportSource hono/jsx */
// What every console request passes: security headers (a CSP that allows no inline script
// or style), admin.allow (403), the session (from loopback without tokens one is started
// on the first page), and for every state-changing request Hono's origin check plus the
// session's CSRF token (a form field, or the header assets/console.js adds for htmx).
// Failures are pages: 401 goes to the login form, anything else is an error page.
import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { MailspoolError } from "../../errors.js";
import type { AppEnv } from "../app-env.js";
import { document } from "./layout.js";
import type { Session, Sessions } from "./session.js";

export interface ConsoleEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { session?: Session; csrf: string };
}

export const isConsolePath = (path: string) => path === "/console" || path.startsWith("/console/");

/** Reached without a token: the login form and the static assets. */
export const isOpenConsolePath = (path: string) => path === "/console/login" || path.startsWith("/console/assets/");

export const pageCsp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function securityHeaders(): MiddlewareHandler<ConsoleEnv> {
  return async function consoleHeaders(c, next) {
    await next();
    // a route that sets its own (the mail preview) keeps it
    if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", pageCsp);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  };
}

export function sessionGuard(sessions: Sessions, tokensConfigured: () => boolean): MiddlewareHandler<ConsoleEnv> {
  const sameOrigin = csrf();
  return async function consoleSession(c, next) {
    let session = sessions.read(c);
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      if (!session && !tokensConfigured() && !isOpenConsolePath(c.req.path)) session = sessions.start(c, "");
    } else {
      await checkOrigin(sameOrigin, c);
      if (c.req.path !== "/console/login" && !(session && sessions.csrfValid(session, await presentedCsrf(c))))
        throw new MailspoolError(
          "forbidden",
          "This form has expired or did not come from this console: reload the page",
        );
    }
    c.set("session", session);
    c.set("csrf", session ? sessions.csrfToken(session) : "");
    await next();
  };
}

async function checkOrigin(check: MiddlewareHandler, c: Context<ConsoleEnv>): Promise<void> {
  try {
    await check(c, async () => undefined);
  } catch (error) {
    if (error instanceof HTTPException) throw new MailspoolError("forbidden", "Cross-site request refused");
    throw error;
  }
}

async function presentedCsrf(c: Context<ConsoleEnv>): Promise<string | undefined> {
  const header = c.req.header("x-csrf-token");
  if (header !== undefined) return header;
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
  const field = (await c.req.parseBody())._csrf;
  return typeof field === "string" ? field : undefined;
}

/** A failure on a console path: the login form for 401, else an error page with the status. */
export function consoleFailure(c: Context, error: MailspoolError) {
  if (error.code === "unauthorized") {
    if (c.req.header("hx-request")) {
      c.header("HX-Redirect", "/console/login");
      return c.body(null, 401);
    }
    return c.redirect("/console/login", 303);
  }
  c.header("Content-Security-Policy", pageCsp);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Cache-Control", "no-store");
  return c.html(
    document({
      title: error.status === 404 ? "Not found" : "Refused",
      children: (
        <>
          <p role="alert">{error.message}</p>
          <p>
            <a href="/console">Back to the console</a>
          </p>
        </>
      ),
    }),
    error.status as ContentfulStatusCode,
  );
}
