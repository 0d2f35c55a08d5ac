/** @jsxImportSource hono/jsx */
// A mail's page: its recipients with state and last error, the attempt timeline with every
// SMTP reply, the message's headers, attachments and .eml to download, the HTML body in a
// sandboxed iframe (scripts off; served under previewCsp), and for admins replay (every
// unsent recipient, or the ones ticked) and cancel.
import type { MailEntry } from "../../spool/mail-index.js";
import type { Mail } from "../../types.js";
import { age } from "./format.js";
import { ColumnHeads, CsrfField, Notice } from "./layout.js";

export interface MailViewProps {
  entry: MailEntry;
  mail: Mail;
  headers: [string, string][] | null;
  csrf: string;
  canAdmin: boolean;
  notice?: { text: string; error?: boolean };
}

const finished = new Set(["sent", "cancelled"]);

export function MailView({ entry, mail, headers, csrf, canAdmin, notice }: MailViewProps) {
  const now = Date.now();
  const base = `/console/mails/${entry.id}`;
  const unsent = entry.recipients.filter((r) => r.state !== "sent");
  return (
    <>
      <Notice text={notice?.text} error={notice?.error} />
      <dl class="facts">
        <dt>Id</dt>
        <dd class="id">{entry.id}</dd>
        <dt>Subject</dt>
        <dd>{mail.subject || "(no subject)"}</dd>
        <dt>From name</dt>
        <dd>{mail.fromName ?? "—"}</dd>
        <dt>State</dt>
        <dd>
          <span class={`state state-${entry.state}`}>{entry.state}</span>
          {entry.nextAttemptAt
            ? ` (${entry.state === "scheduled" ? "sends at" : "next attempt"} ${entry.nextAttemptAt})`
            : ""}
        </dd>
        <dt>Tags</dt>
        <dd>{mail.tags?.join(", ") || "—"}</dd>
        <dt>Metadata</dt>
        <dd>
          {Object.entries(mail.metadata ?? {})
            .map(([key, value]) => `${key}=${value}`)
            .join(", ") || "—"}
        </dd>
        <dt>Accepted</dt>
        <dd>
          <time datetime={entry.acceptedAt}>{entry.acceptedAt}</time> ({age(entry.acceptedAt, now)} ago)
        </dd>
      </dl>

      {canAdmin && !finished.has(entry.state) ? (
        <section aria-labelledby="actions-title" class="actions">
          <h2 id="actions-title">Actions</h2>
          {unsent.length && entry.state !== "sending" && entry.state !== "scheduled" ? (
            <form method="post" action={`${base}/replay`}>
              <CsrfField token={csrf} />
              <fieldset>
                <legend>Replay to (none ticked: every unsent recipient)</legend>
                {unsent.map((r) => (
                  <label class="check">
                    <input type="checkbox" name="recipient" value={r.address} /> {r.address}
                  </label>
                ))}
              </fieldset>
              <button type="submit">Replay</button>
            </form>
          ) : null}
          <form method="post" action={`${base}/cancel`}>
            <CsrfField token={csrf} />
            <button type="submit" class="danger">
              Cancel this mail
            </button>
          </form>
        </section>
      ) : null}

      <section aria-labelledby="recipients-title">
        <h2 id="recipients-title">Recipients</h2>
        <div class="table-wrap">
          <table class="cards">
            <ColumnHeads names={["Recipient", "Kind", "State", "Last error"]} />
            <tbody>
              {entry.recipients.map((r) => (
                <tr>
                  <th scope="row" data-label="Recipient">
                    {r.name ? `${r.name} <${r.address}>` : r.address}
                  </th>
                  <td data-label="Kind">{r.kind}</td>
                  <td data-label="State">
                    <span class={`state state-${r.state}`}>{r.state}</span>
                  </td>
                  <td data-label="Last error">{r.lastError ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        {entry.attempts.length === 0 ? (
          <p>No attempt yet.</p>
        ) : (
          <ol class="timeline">
            {entry.attempts.map((a) => (
              <li>
                <h3>
                  Attempt {a.attempt}: {a.state ?? "in progress"}
                </h3>
                <p class="muted">
                  <time datetime={a.startedAt}>{a.startedAt}</time>
                  {a.endedAt ? (
                    <>
                      {" → "}
                      <time datetime={a.endedAt}>{a.endedAt}</time>
                    </>
                  ) : null}
                  {a.nextAttemptAt ? `, next at ${a.nextAttemptAt}` : ""}
                </p>
                {a.error ? <p>{a.error}</p> : null}
                <ul>
                  {a.transactions.map((t) => (
                    <li>
                      <span class="muted">{t.upstream}</span> to {t.envelope.to.join(", ")}:{" "}
                      <code>{t.response.startsWith(String(t.code)) ? t.response : `${t.code} ${t.response}`}</code>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
        )}
      </section>

      <section aria-labelledby="body-title">
        <h2 id="body-title">HTML body</h2>
        {mail.html ? (
          <iframe
            class="preview"
            src={`${base}/preview`}
            sandbox=""
            referrerpolicy="no-referrer"
            title="The mail's HTML body (scripts and remote content blocked)"
          ></iframe>
        ) : (
          <p>This mail has no HTML body.</p>
        )}
        <p>
          <a href={`${base}/message.eml`} download hx-boost="false">
            Download the message (.eml)
          </a>
        </p>
      </section>

      <section aria-labelledby="attachments-title">
        <h2 id="attachments-title">Attachments</h2>
        {mail.attachments.length === 0 ? (
          <p>None.</p>
        ) : (
          <ul>
            {mail.attachments.map((a, i) => (
              <li>
                <a href={`${base}/attachments/${i}`} download hx-boost="false">
                  {a.filename}
                </a>{" "}
                <span class="muted">{`${a.contentType}, ${a.size} bytes`}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="headers-title">
        <h2 id="headers-title">Headers</h2>
        {headers ? (
          <dl class="headers">
            {headers.map(([name, value]) => (
              <>
                <dt>{name}</dt>
                <dd>{value}</dd>
              </>
            ))}
          </dl>
        ) : (
          <p>Not available: archiving dropped the bytes the message is made of.</p>
        )}
      </section>
    </>
  );
}
