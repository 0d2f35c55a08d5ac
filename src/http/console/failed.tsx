/** @jsxImportSource hono/jsx */
// The failed view (partial and failed mails) with bulk replay and cancel: ticking mails and
// choosing an action shows what will happen and asks to confirm; only the confirmation acts
// (replay through retryFailed, as POST /admin/retry-failed; cancel as POST /admin/cancel).
import type { MailEntry } from "../../spool/mail-index.js";
import { age } from "./format.js";
import { ColumnHeads, CsrfField, Notice } from "./layout.js";

export type BulkAction = "replay" | "cancel";

export interface BulkResult {
  id: string;
  done: boolean;
  message: string;
}

export function FailedView({ mails, csrf, canAdmin }: { mails: MailEntry[]; csrf: string; canAdmin: boolean }) {
  const now = Date.now();
  if (mails.length === 0) return <p role="status">No mail is partial or failed.</p>;
  const rows = mails.map((mail) => (
    <tr>
      {canAdmin ? (
        <td data-label="Choose">
          <input type="checkbox" name="id" value={mail.id} id={`pick-${mail.id}`} />
        </td>
      ) : null}
      <th scope="row" data-label="Subject">
        {canAdmin ? <label for={`pick-${mail.id}`} class="sr-only">{`Choose ${mail.subject || mail.id}`}</label> : null}
        <a href={`/console/mails/${mail.id}`}>{mail.subject || "(no subject)"}</a>
      </th>
      <td data-label="State">
        <span class={`state state-${mail.state}`}>{mail.state}</span>
      </td>
      <td data-label="Last error">
        {mail.recipients
          .filter((r) => r.lastError)
          .map((r) => `${r.address}: ${r.lastError}`)
          .join("; ") || "—"}
      </td>
      <td data-label="Attempts">{mail.attempts.length}</td>
      <td data-label="Age">{age(mail.acceptedAt, now)}</td>
    </tr>
  ));
  const table = (
    <div class="table-wrap">
      <table class="cards">
        <ColumnHeads names={[...(canAdmin ? ["Choose"] : []), "Subject", "State", "Last error", "Attempts", "Age"]} />
        <tbody>{rows}</tbody>
      </table>
    </div>
  );
  if (!canAdmin) return table;
  return (
    <form method="post" action="/console/failed/confirm">
      <CsrfField token={csrf} />
      <p class="muted">{`${mails.length} mails. Tick the ones to act on, then choose an action.`}</p>
      {table}
      <label class="check">
        <input type="checkbox" name="includePermanent" value="1" /> Replay also the recipients that failed for good
      </label>
      <div class="buttons">
        <button type="submit" name="action" value="replay">
          Replay chosen…
        </button>
        <button type="submit" name="action" value="cancel" class="danger">
          Cancel chosen…
        </button>
      </div>
    </form>
  );
}

export function ConfirmView(props: {
  action: BulkAction;
  mails: MailEntry[];
  includePermanent: boolean;
  csrf: string;
}) {
  const { action, mails, includePermanent, csrf } = props;
  if (mails.length === 0)
    return (
      <>
        <Notice text="No mail was chosen." error />
        <a href="/console/failed">Back to the failed mails</a>
      </>
    );
  return (
    <form method="post" action="/console/failed/apply">
      <CsrfField token={csrf} />
      <input type="hidden" name="action" value={action} />
      {includePermanent ? <input type="hidden" name="includePermanent" value="1" /> : null}
      <p role="status">
        {action === "replay"
          ? `Replay ${mails.length} mails${includePermanent ? ", recipients that failed for good included" : ""}?`
          : `Cancel ${mails.length} mails? Cancelling is final.`}
      </p>
      <ul>
        {mails.map((mail) => (
          <li>
            <input type="hidden" name="id" value={mail.id} />
            {mail.subject || "(no subject)"} <span class="muted id">{mail.id}</span>
          </li>
        ))}
      </ul>
      <div class="buttons">
        <button type="submit" class={action === "cancel" ? "danger" : undefined}>
          {action === "replay" ? "Yes, replay them" : "Yes, cancel them"}
        </button>
        <a href="/console/failed">No, go back</a>
      </div>
    </form>
  );
}

export function ResultsView({ results }: { results: BulkResult[] }) {
  const done = results.filter((r) => r.done).length;
  return (
    <>
      <Notice text={`${done} of ${results.length} done.`} />
      <ul>
        {results.map((r) => (
          <li>
            <a href={`/console/mails/${r.id}`} class="id">
              {r.id}
            </a>
            : {r.message}
          </li>
        ))}
      </ul>
      <a href="/console/failed">Back to the failed mails</a>
    </>
  );
}
