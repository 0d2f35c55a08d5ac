/** @jsxImportSource hono/jsx */
// The overview's chart: mails accepted and attempts ended (sent / not sent) per hour over the
// last 24 hours, as SVG rendered on the server (presentation attributes only: the CSP allows
// no inline style). The same figures follow in a table for screen readers and keyboards.
import { ColumnHeads } from "./layout.js";

export interface HourFigures {
  /** The hour's start. */
  hour: Date;
  accepted: number;
  sent: number;
  failed: number;
}

const width = 720;
const height = 200;
const left = 40;
const bottom = 24;
const top = 10;

const hourLabel = (hour: Date) => `${String(hour.getUTCHours()).padStart(2, "0")}:00`;

/** The 24 hours ending with the current one, filled from `byHour` ("YYYY-MM-DDTHH" keys, UTC). */
export function lastDay(
  byHour: Map<string, { accepted: number; sent: number; failed: number }>,
  now: number,
): HourFigures[] {
  const current = Math.floor(now / 3_600_000) * 3_600_000;
  return Array.from({ length: 24 }, (_, i) => {
    const hour = new Date(current - (23 - i) * 3_600_000);
    const figures = byHour.get(hour.toISOString().slice(0, 13)) ?? { accepted: 0, sent: 0, failed: 0 };
    return { hour, ...figures };
  });
}

export function ActivityChart({ hours }: { hours: HourFigures[] }) {
  const peak = Math.max(1, ...hours.map((h) => Math.max(h.accepted, h.sent + h.failed)));
  const slot = (width - left) / hours.length;
  const bar = (slot - 4) / 2;
  const y = (value: number) => top + (height - top - bottom) * (1 - value / peak);
  const barHeight = (value: number) => (height - top - bottom) * (value / peak);
  const total = (key: "accepted" | "sent" | "failed") => hours.reduce((sum, h) => sum + h[key], 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">
          {`Last 24 hours: ${total("accepted")} accepted, ${total("sent")} attempts sent, ${total("failed")} not sent`}
        </title>
        <line x1={left} y1={height - bottom} x2={width} y2={height - bottom} stroke="#888" />
        <text x={left - 6} y={top + 8} text-anchor="end" font-size="11" fill="#555">
          {String(peak)}
        </text>
        <text x={left - 6} y={height - bottom} text-anchor="end" font-size="11" fill="#555">
          0
        </text>
        {hours.map((h, i) => {
          const x = left + i * slot + 2;
          return (
            <g>
              <rect x={x} y={y(h.accepted)} width={bar} height={barHeight(h.accepted)} fill="#3b6ea8">
                <title>{`${hourLabel(h.hour)} UTC: ${h.accepted} accepted`}</title>
              </rect>
              <rect x={x + bar} y={y(h.sent)} width={bar} height={barHeight(h.sent)} fill="#2e8b57">
                <title>{`${hourLabel(h.hour)} UTC: ${h.sent} sent`}</title>
              </rect>
              <rect x={x + bar} y={y(h.sent + h.failed)} width={bar} height={barHeight(h.failed)} fill="#c0392b">
                <title>{`${hourLabel(h.hour)} UTC: ${h.failed} not sent`}</title>
              </rect>
              {i % 4 === 0 ? (
                <text x={x} y={height - 8} font-size="11" fill="#555">
                  {hourLabel(h.hour)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span class="key accepted">accepted</span> <span class="key sent">attempts sent</span>{" "}
        <span class="key failed">attempts not sent</span> (hours in UTC)
      </figcaption>
      <details>
        <summary>The figures as a table</summary>
        <table>
          <ColumnHeads names={["Hour (UTC)", "Accepted", "Sent", "Not sent"]} />
          <tbody>
            {hours.map((h) => (
              <tr>
                <th scope="row">{hourLabel(h.hour)}</th>
                <td>{h.accepted}</td>
                <td>{h.sent}</td>
                <td>{h.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
