/** @jsxImportSource hono/jsx */
// The overview: counts by state, the backlog and its oldest mail's age, the last 24 hours
// as a chart, each upstream's count today against its dailyLimit, its last error and its
// token bucket, and the paused flag with its button. The figures poll themselves (htmx)
// every 10 s; the button sits outside them so polling never takes the keyboard's focus.
import { oldestQueuedSeconds } from "../../metrics.js";
import { mailStates } from "../../types.js";
import type { AppDeps } from "../app.js";
import { ActivityChart, lastDay } from "./chart.js";
import { duration } from "./format.js";
import { ColumnHeads, CsrfField } from "./layout.js";

export function OverviewFigures({ deps }: { deps: AppDeps }) {
  const { spool, config, observe, admin } = deps;
  const now = Date.now();
  const counts = spool.index.countByState();
  const backlog = counts.queued + counts.sending + counts.deferred;
  const dayStart = new Date(Math.floor(now / 3_600_000) * 3_600_000 - 23 * 3_600_000).toISOString();
  const buckets = admin.delivery.buckets;
  return (
    <div id="figures" hx-get="/console/figures" hx-trigger="every 10s" hx-swap="outerHTML">
      <section aria-labelledby="states-title">
        <h2 id="states-title">Mails by state</h2>
        <dl class="counts">
          {mailStates.map((state) => (
            <div class={`count state-${state}`}>
              <dt>
                <a href={`/console/mails?state=${state}`}>{state}</a>
              </dt>
              <dd>{counts[state]}</dd>
            </div>
          ))}
        </dl>
        <p>
          Backlog: <strong>{backlog}</strong> waiting
          {backlog ? (
            <>
              , the oldest for <strong>{duration(oldestQueuedSeconds(spool.index, now))}</strong>
            </>
          ) : null}
          .
        </p>
      </section>
      <section aria-labelledby="chart-heading">
        <h2 id="chart-heading">Intake and delivery, last 24 hours</h2>
        <ActivityChart hours={lastDay(spool.index.activitySince(dayStart), now)} />
      </section>
      <section aria-labelledby="upstreams-title">
        <h2 id="upstreams-title">Upstreams</h2>
        {config.delivery.upstreams.length === 0 ? (
          <p>None configured: delivery writes to the embedded outbox.</p>
        ) : (
          <div class="table-wrap">
            <table class="cards">
              <ColumnHeads names={["Upstream", "Today / daily limit", "Bucket", "Last error"]} />
              <tbody>
                {config.delivery.upstreams.map((u) => {
                  const bucket = buckets.find((b) => b.upstream === u.name);
                  const lastError = observe.metrics.upstreamLastError.get(u.name);
                  return (
                    <tr>
                      <th scope="row" data-label="Upstream">
                        {u.name} <span class="muted">{`${u.host}:${u.port}`}</span>
                      </th>
                      <td data-label="Today / daily limit">
                        {observe.daily.count(u.name, now)} / {u.dailyLimit > 0 ? u.dailyLimit : "no limit"}
                      </td>
                      <td data-label="Bucket">
                        {bucket
                          ? `${Math.max(0, Math.floor(bucket.tokens))} of ${bucket.burst} tokens, ${bucket.ratePerSecond}/s`
                          : "—"}
                      </td>
                      <td data-label="Last error">
                        {lastError ? `${lastError.code} ${lastError.response} (${lastError.at})` : "none"}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

/** The paused flag and its button (admins only); the form answers with this section again. */
export function DeliveryControl({ paused, csrf, canAdmin }: { paused: boolean; csrf: string; canAdmin: boolean }) {
  return (
    <section id="delivery" aria-labelledby="delivery-title">
      <h2 id="delivery-title">Delivery</h2>
      <p role="status">
        Delivery is <strong>{paused ? "paused" : "running"}</strong>
        {paused ? " (intake keeps accepting)" : ""}.
      </p>
      {canAdmin ? (
        <form
          method="post"
          action={paused ? "/console/resume" : "/console/pause"}
          hx-post={paused ? "/console/resume" : "/console/pause"}
          hx-target="#delivery"
          hx-swap="outerHTML"
        >
          <CsrfField token={csrf} />
          <button type="submit" id="delivery-button">
            {paused ? "Resume delivery" : "Pause delivery"}
          </button>
        </form>
      ) : null}
    </section>
  );
}
