// Token scopes (README "Access"): the scope each endpoint needs (403 naming it) and which
// mails a client sees. `read` sees the mails accepted under its own token name; another
// client's mail is indistinguishable from no mail. The one place scopes are checked.
import type { Context, MiddlewareHandler } from "hono";
import type { TokenScope } from "../config-schema.js";
import { MailspoolError } from "../errors.js";
import type { ListQuery, MailEntry } from "../spool/mail-index.js";
import { clientId, type AppEnv, type Client } from "./app-env.js";

// `admin` reads every mail, so it also grants what `read` does; it does not grant `send`.
const grantedBy: Record<TokenScope, readonly TokenScope[]> = {
  send: ["send"],
  read: ["read", "admin"],
  admin: ["admin"],
};

/** Middleware: a token without `scope` gets 403. Clients not limited by scopes pass. */
export function requireScope(scope: TokenScope): MiddlewareHandler<AppEnv> {
  return async function scopeCheck(c, next) {
    const { scopes } = c.get("client");
    if (scopes && !grantedBy[scope].some((granting) => scopes.includes(granting)))
      throw new MailspoolError("forbidden", `This token lacks the "${scope}" scope`);
    await next();
  };
}

/** The `client` of the mails this client is limited to; undefined = every mail. */
function ownMailsOnly(client: Client): string | undefined {
  return client.scopes && !client.scopes.includes("admin") ? clientId(client) : undefined;
}

/** The entry when this client may see it, else undefined (the route answers 404 as for no mail). */
export function visibleMail<E extends AppEnv>(c: Context<E>, entry: MailEntry | undefined): MailEntry | undefined {
  const owner = ownMailsOnly(c.get("client"));
  return entry && (owner === undefined || entry.client === owner) ? entry : undefined;
}

/** `list` filtered to what this client may see before the limit, so a page is never short for others' mails. */
export function visibleMails<E extends AppEnv>(
  c: Context<E>,
  list: (query: ListQuery) => MailEntry[],
  query: ListQuery,
): MailEntry[] {
  const owner = ownMailsOnly(c.get("client"));
  return list(owner === undefined ? query : { ...query, client: owner });
}
