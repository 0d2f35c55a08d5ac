/** @jsxImportSource hono/jsx */
// The mail list: newest first, filtered by state, recipient, subject and acceptance time
// (the API's filters, read by the same schema and listed by the same visibleMails), paged
// on with the `before` cursor. Each row: id, subject, recipients, state, age.
import type { Context } from "hono";
import { z } from "zod";
import { parseSince } from "../../duration.js";
import type { MailEntry } from "../../spool/mail-index.js";
import { mailStates } from "../../types.js";
import type { AppDeps } from "../app.js";
import { listQuerySchema } from "../routes/records.js";
import { visibleMails } from "../token-scopes.js";
import { age } from "./format.js";
import type { ConsoleEnv } from "./guard.js";
import { ColumnHeads, Notice } from "./layout.js";

const pageSize = 25;
const filterSchema = listQuerySchema.extend({ subject: z.string().max(500).optional() });

export interface MailFilters {
  state?: string;
  recipient?: string;
  subject?: string;
  since?: string;
  before?: string;
}

export interface MailPage {
  /** The filters as typed (shown again in the form). */
  typed: MailFilters;
  mails: MailEntry[];
  next: string | null;
  errors: string[];
}

export function listMails(c: Context<ConsoleEnv>, { spool }: AppDeps): MailPage {
  const keys = ["state", "recipient", "subject", "since", "before"] as const;
  const typed: MailFilters = {};
  for (const key of keys) {
    const value = c.req.query(key)?.trim();
    if (value) typed[key] = value;
  }
  const parsed = filterSchema.safeParse({ ...typed, limit: pageSize });
  if (!parsed.success)
    return {
      typed,
      mails: [],
      next: null,
      errors: parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`),
    };
  const query = parsed.data;
  const mails = visibleMails(c, (q) => spool.index.list(q), {
    state: query.state as MailEntry["state"] | undefined,
    since: query.since ? (parseSince(query.since) ?? undefined) : undefined,
    recipient: query.recipient,
    subject: query.subject,
    before: query.before,
    limit: pageSize,
  });
  return { typed, mails, next: mails.length === pageSize ? mails.at(-1)!.id : null, errors: [] };
}

function filtersQuery(filters: MailFilters): string {
  return new URLSearchParams(Object.entries(filters).filter(([, v]) => v) as [string, string][]).toString();
}

export function MailsView({ page }: { page: MailPage }) {
  const { typed, mails, next, errors } = page;
  const now = Date.now();
  const nextQuery = next ? filtersQuery({ ...typed, before: next }) : null;
  return (
    <>
      <form method="get" action="/console/mails" class="filters" role="search" aria-label="Filter mails">
        <label>
          State
          <select name="state">
            <option value="">any</option>
            {mailStates.map((state) => (
              <option value={state} selected={typed.state === state}>
                {state}
              </option>
            ))}
          </select>
        </label>
        <label>
          Recipient
          <input type="email" name="recipient" value={typed.recipient ?? ""} autocomplete="off" />
        </label>
        <label>
          Subject contains
          <input type="search" name="subject" value={typed.subject ?? ""} />
        </label>
        <label>
          Accepted since
          <input type="text" name="since" value={typed.since ?? ""} placeholder="2h or 2026-12-01" />
        </label>
        <button type="submit">Filter</button>
        <a href="/console/mails">Clear</a>
      </form>
      {errors.map((error) => (
        <Notice text={error} error />
      ))}
      <p role="status" class="muted">
        {mails.length === 0
          ? "No mails match."
          : `${mails.length} ${mails.length === 1 ? "mail" : "mails"}${typed.before ? " (an older page)" : ""}.`}
      </p>
      {mails.length ? (
        <div class="table-wrap">
          <table class="cards">
            <ColumnHeads names={["Subject", "Recipients", "State", "Age", "Id"]} />
            <tbody>
              {mails.map((mail) => (
                <tr>
                  <th scope="row" data-label="Subject">
                    <a href={`/console/mails/${mail.id}`}>{mail.subject || "(no subject)"}</a>
                  </th>
                  <td data-label="Recipients">
                    {mail.recipients
                      .slice(0, 3)
                      .map((r) => r.address)
                      .join(", ")}
                    {mail.recipients.length > 3 ? ` and ${mail.recipients.length - 3} more` : ""}
                  </td>
                  <td data-label="State">
                    <span class={`state state-${mail.state}`}>{mail.state}</span>
                  </td>
                  <td data-label="Age">
                    <time datetime={mail.acceptedAt}>{age(mail.acceptedAt, now)}</time>
                  </td>
                  <td data-label="Id" class="id">
                    {mail.id}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav aria-label="Pages" class="pages">
        {typed.before ? <a href={`/console/mails?${filtersQuery({ ...typed, before: undefined })}`}>Newest</a> : null}
        {nextQuery ? <a href={`/console/mails?${nextQuery}`}>Older mails</a> : null}
      </nav>
    </>
  );
}
