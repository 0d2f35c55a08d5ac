/** @jsxImportSource hono/jsx */
// The page every console view is rendered in: navigation, the CSRF token for htmx (read by
// assets/console.js), htmx configured to run no script it receives, and a skip link. Links
// and forms load in place (hx-boost), which keeps <head>: logging in and out, which change
// the session and so the token in it, load whole pages.
// Everything is rendered through Hono's JSX, which escapes every value it is given.
import { html } from "hono/html";
import type { Child } from "hono/jsx";
import type { Session } from "./session.js";

export interface PageProps {
  title: string;
  /** The navigation entry that is current. */
  current?: "overview" | "mails" | "failed" | "config";
  /** The session's CSRF token; none on the login and error pages. */
  csrf?: string;
  /** Whether to offer logging out (a session from a token). */
  session?: Session;
  children?: Child;
}

// htmx 2: no eval, no <script> from responses, requests to this origin only, no inline
// indicator style (the CSP allows none), and 4xx/5xx answers are shown (they are pages too)
const htmxConfig = JSON.stringify({
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  includeIndicatorStyles: false,
  historyCacheSize: 0,
  responseHandling: [
    { code: "204", swap: false },
    { code: "...", swap: true },
  ],
});

const links = [
  ["overview", "/console", "Overview"],
  ["mails", "/console/mails", "Mails"],
  ["failed", "/console/failed", "Failed"],
  ["config", "/console/config", "Config"],
] as const;

export function Page({ title, current, csrf, session, children }: PageProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={htmxConfig} />
        {csrf ? <meta name="csrf-token" content={csrf} /> : null}
        <title>{`${title} · mailspool`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/htmx.min.js" defer></script>
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body hx-boost={csrf ? "true" : undefined}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <span class="brand">mailspool</span>
          {csrf ? (
            <nav aria-label="Console">
              <ul>
                {links.map(([key, href, label]) => (
                  <li>
                    <a href={href} aria-current={key === current ? "page" : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
          {csrf && session?.token ? (
            <form method="post" action="/console/logout" class="logout" hx-boost="false">
              <input type="hidden" name="_csrf" value={csrf} />
              <button type="submit">Log out</button>
            </form>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          <h1>{title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A whole page: the doctype keeps browsers out of quirks mode. */
export function document(props: PageProps) {
  return html`<!DOCTYPE html>${(<Page {...props} />)}`;
}

/** A table's column headings. */
export function ColumnHeads({ names }: { names: string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th scope="col">{name}</th>
        ))}
      </tr>
    </thead>
  );
}

/** The hidden field a state-changing form carries. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

/** A message the page reports after an action (announced by screen readers). */
export function Notice({ text, error }: { text?: string; error?: boolean }) {
  if (!text) return null;
  return (
    <p class={error ? "notice error" : "notice"} role={error ? "alert" : "status"}>
      {text}
    </p>
  );
}
