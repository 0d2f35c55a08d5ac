/** @jsxImportSource hono/jsx */
// The web console at /console (README "Web console"): pages rendered on the server with
// Hono's JSX, htmx for polling and in-place forms. It reads and acts through what the API
// uses (the index's lists and token scopes, readAccepted, delivery's replay and cancel,
// retryFailed, setPaused), under the API's access rules: admin.allow, then a token (from the
// login form's session cookie) with `read` to look and `admin` to act.
import { Hono, type Context } from "hono";
import { maskSecrets } from "../../config.js";
import { retryFailed } from "../../delivery/retry-failed.js";
import { MailspoolError } from "../../errors.js";
import type { MailEntry } from "../../spool/mail-index.js";
import { matchToken, tokenDigest } from "../access.js";
import { adminAccess } from "../admin-access.js";
import type { AppDeps } from "../app.js";
import { requireScope, visibleMail, visibleMails } from "../token-scopes.js";
import { assetsRoute } from "./assets.js";
import { ConfirmView, FailedView, ResultsView, type BulkAction, type BulkResult } from "./failed.js";
import { securityHeaders, sessionGuard, type ConsoleEnv } from "./guard.js";
import { document, Notice, Page } from "./layout.js";
import { MailView } from "./mail.js";
import { attachmentBytes, download, headerFields, messageBytes, previewCsp, readMail } from "./mail-files.js";
import { listMails, MailsView } from "./mails.js";
import { DeliveryControl, OverviewFigures } from "./overview.js";
import type { Sessions } from "./session.js";

const failedListLimit = 500;

/** Whether this client's buttons act: no scopes (addresses alone decide) or an `admin` token. */
const canAdmin = (c: Context<ConsoleEnv>) => {
  const { scopes } = c.get("client");
  return !scopes || scopes.includes("admin");
};

/** The form's values of `name`, every one given. */
async function formValues(c: Context<ConsoleEnv>, name: string): Promise<string[]> {
  const body = await c.req.parseBody({ all: true });
  const value = body[name];
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v) => typeof v === "string");
}

export function consoleRoute(deps: AppDeps, sessions: Sessions) {
  const { spool, admin } = deps;
  const app = new Hono<ConsoleEnv>();
  const read = requireScope("read");
  const act = requireScope("admin");
  app.use(
    "/console/*",
    securityHeaders(),
    adminAccess(() => deps.config.admin.allow),
    sessionGuard(sessions, () => deps.config.server.tokens.length > 0),
  );
  app.route("/", assetsRoute());

  const page = (
    c: Context<ConsoleEnv>,
    title: string,
    current: Parameters<typeof Page>[0]["current"],
    body: unknown,
    status = 200,
  ) =>
    c.html(
      document({ title, current, csrf: c.get("csrf"), session: c.get("session"), children: body as never }),
      status as 200,
    );

  app.get("/console/login", (c) => {
    if (deps.config.server.tokens.length === 0) return c.redirect("/console", 303);
    return c.html(loginPage());
  });
  app.post("/console/login", async (c) => {
    const body = await c.req.parseBody();
    const presented = typeof body.token === "string" ? body.token.trim() : "";
    const tokens = deps.config.server.tokens.map((t) => ({ ...t, digest: tokenDigest(t.token) }));
    const digest = tokenDigest(presented);
    const match = presented ? matchToken(tokens, digest) : undefined;
    if (!match || !match.scopes.some((s) => s === "read" || s === "admin"))
      return c.html(loginPage(match ? "This token has neither the read nor the admin scope." : "Unknown token."), 401);
    sessions.start(c, digest.toString("hex"));
    return c.redirect("/console", 303);
  });
  app.post("/console/logout", (c) => {
    sessions.end(c);
    return c.redirect("/console/login", 303);
  });

  app.get("/console", read, (c) =>
    page(
      c,
      "Overview",
      "overview",
      <>
        <DeliveryControl paused={admin.delivery.paused} csrf={c.get("csrf")} canAdmin={canAdmin(c)} />
        <OverviewFigures deps={deps} />
      </>,
    ),
  );
  app.get("/console/figures", read, (c) => c.html(<OverviewFigures deps={deps} />));
  for (const paused of [true, false])
    app.post(paused ? "/console/pause" : "/console/resume", act, async (c) => {
      await admin.setPaused(paused);
      if (!c.req.header("hx-request")) return c.redirect("/console", 303);
      return c.html(<DeliveryControl paused={paused} csrf={c.get("csrf")} canAdmin />);
    });

  app.get("/console/mails", read, (c) => page(c, "Mails", "mails", <MailsView page={listMails(c, deps)} />));

  const mailPage = async (c: Context<ConsoleEnv>, notice?: { text: string; error?: boolean }, status = 200) => {
    const { entry, record } = await readMail(c, deps);
    const message = await messageBytes(record, deps);
    return page(
      c,
      `Mail ${entry.id}`,
      "mails",
      <MailView
        entry={entry}
        mail={record.mail}
        headers={message ? headerFields(message) : null}
        csrf={c.get("csrf")}
        canAdmin={canAdmin(c)}
        notice={notice}
      />,
      status,
    );
  };
  const done: Record<string, string> = { replay: "Replayed: the mail is queued again.", cancel: "Cancelled." };
  app.get("/console/mails/:id", read, (c) => {
    const text = done[c.req.query("done") ?? ""];
    return mailPage(c, text ? { text } : undefined);
  });
  /** Runs a mail action; a refusal (409, 400) is shown on the mail's page. */
  const mailAction = async (c: Context<ConsoleEnv>, name: string, run: (entry: MailEntry) => Promise<unknown>) => {
    const { entry } = await readMail(c, deps);
    try {
      await run(entry);
    } catch (error) {
      if (!(error instanceof MailspoolError) || error.status >= 500) throw error;
      const detail = error.errors?.map((e) => e.message).join("; ");
      return mailPage(c, { text: detail ? `${error.message}: ${detail}` : error.message, error: true }, error.status);
    }
    return c.redirect(`/console/mails/${entry.id}?done=${name}`, 303);
  };
  const who = (c: Context<ConsoleEnv>) => `console (${c.get("client").tokenName ?? c.get("client").ip})`;
  app.post("/console/mails/:id/replay", act, async (c) => {
    const chosen = await formValues(c, "recipient");
    return mailAction(c, "replay", (entry) =>
      admin.delivery.replay(entry.id, { recipients: chosen.length ? chosen : undefined, reason: who(c) }),
    );
  });
  app.post("/console/mails/:id/cancel", act, (c) =>
    mailAction(c, "cancel", (entry) => admin.delivery.cancel(entry.id, who(c))),
  );
  app.get("/console/mails/:id/preview", read, async (c) => {
    const { record } = await readMail(c, deps);
    c.header("Content-Security-Policy", previewCsp);
    return c.body(record.mail.html, 200, { "Content-Type": "text/html; charset=utf-8" });
  });
  app.get("/console/mails/:id/message.eml", read, async (c) => {
    const { entry, record } = await readMail(c, deps);
    const message = await messageBytes(record, deps);
    if (!message) throw new MailspoolError("not_found", "Archiving dropped the bytes this message is made of");
    return download(c, message, "message/rfc822", `${entry.id}.eml`);
  });
  app.get("/console/mails/:id/attachments/:index", read, async (c) => {
    const { record } = await readMail(c, deps);
    const index = Number(c.req.param("index"));
    const bytes = await attachmentBytes(record, Number.isInteger(index) ? index : -1, deps);
    return download(c, bytes, "application/octet-stream", record.mail.attachments[index]!.filename);
  });

  const failedMails = (c: Context<ConsoleEnv>) =>
    (["partial", "failed"] as const)
      .flatMap((state) => visibleMails(c, (q) => spool.index.list(q), { state, limit: failedListLimit }))
      .sort((a, b) => (a.acceptedAt < b.acceptedAt ? 1 : -1))
      .slice(0, failedListLimit);
  const chosenMails = async (c: Context<ConsoleEnv>) =>
    (await formValues(c, "id")).flatMap((id) => visibleMail(c, spool.index.get(id)) ?? []);
  const bulkAction = async (c: Context<ConsoleEnv>): Promise<BulkAction> => {
    const action = (await c.req.parseBody()).action;
    if (action !== "replay" && action !== "cancel")
      throw new MailspoolError("invalid_param", "Choose replay or cancel");
    return action;
  };
  app.get("/console/failed", read, (c) =>
    page(
      c,
      "Failed mails",
      "failed",
      <FailedView mails={failedMails(c)} csrf={c.get("csrf")} canAdmin={canAdmin(c)} />,
    ),
  );
  app.post("/console/failed/confirm", act, async (c) =>
    page(
      c,
      "Confirm",
      "failed",
      <ConfirmView
        action={await bulkAction(c)}
        mails={await chosenMails(c)}
        includePermanent={(await c.req.parseBody()).includePermanent === "1"}
        csrf={c.get("csrf")}
      />,
    ),
  );
  app.post("/console/failed/apply", act, async (c) => {
    const action = await bulkAction(c);
    const ids = (await chosenMails(c)).map((m) => m.id);
    let results: BulkResult[];
    if (action === "replay") {
      const outcomes = await retryFailed(
        spool.index,
        (id, recipients) => admin.delivery.replay(id, { recipients, reason: who(c) }),
        { ids, includePermanent: (await c.req.parseBody()).includePermanent === "1" },
      );
      results = outcomes.map((o) =>
        o.requeued
          ? { id: o.id, done: true, message: `requeued for ${o.recipients.join(", ")}` }
          : { id: o.id, done: false, message: o.message },
      );
    } else {
      results = [];
      for (const id of ids) {
        try {
          const now = await admin.delivery.cancel(id, who(c));
          results.push({ id, done: true, message: now ? "cancelled" : "was already cancelled" });
        } catch (error) {
          if (!(error instanceof MailspoolError) || error.status >= 500) throw error;
          results.push({ id, done: false, message: error.message });
        }
      }
    }
    return page(c, action === "replay" ? "Replayed" : "Cancelled", "failed", <ResultsView results={results} />);
  });

  app.get("/console/config", read, (c) =>
    page(
      c,
      "Config",
      "config",
      <>
        <p>The effective configuration; every password, token and TLS key is masked.</p>
        <pre class="config" tabindex={0} aria-label="Effective configuration">
          {JSON.stringify(maskSecrets(deps.config), null, 2)}
        </pre>
      </>,
    ),
  );
  return app;
}

function loginPage(error?: string) {
  return document({
    title: "Log in",
    children: (
      <>
        <Notice text={error} error />
        <form method="post" action="/console/login" class="login" hx-boost="false">
          <label>
            Token (with the read scope to look, admin to act)
            <input type="password" name="token" autocomplete="current-password" required autofocus />
          </label>
          <button type="submit">Log in</button>
        </form>
      </>
    ),
  });
}
