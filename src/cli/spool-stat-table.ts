// The human form of `spool stat`: short aligned tables, like mailq's last line and qshape.
import type { SpoolStat } from "./spool-stat.js";

const units = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** "3d 4h", "2h 13m", "5m 2s", "40s": the two largest units. */
export function formatAge(seconds: number): string {
  const parts: [number, string][] = [
    [Math.floor(seconds / 86_400), "d"],
    [Math.floor(seconds / 3_600) % 24, "h"],
    [Math.floor(seconds / 60) % 60, "m"],
    [seconds % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return "0s";
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join(" ");
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function queueLines({ queue }: SpoolStat): string[] {
  if (queue.mails === 0) return ["queue: empty"];
  const lines = [`queue: ${plural(queue.mails, "mail")} to ${plural(queue.recipients, "recipient")}`];
  if (queue.oldest)
    lines.push(
      `  oldest: ${formatAge(queue.oldest.ageSeconds)} (${queue.oldest.id}, accepted ${queue.oldest.acceptedAt})`,
    );
  if (queue.domains.length)
    lines.push(`  waiting by domain: ${queue.domains.map((d) => `${d.domain} ${d.recipients}`).join(", ")}`);
  return lines;
}

function limitText(today: number, dailyLimit: number): string {
  if (dailyLimit <= 0) return "none";
  const percent = Math.floor((today / dailyLimit) * 100);
  return `${dailyLimit} (${today >= dailyLimit ? "reached: the next upstream takes over" : `${percent}% used`})`;
}

function upstreamLines({ delivery }: SpoolStat): string[] {
  const width = Math.max(8, ...delivery.upstreams.map((u) => u.name.length));
  const lines = [
    `${"UPSTREAM".padEnd(width)}  ${"TODAY".padStart(7)}  DAILY LIMIT   (${delivery.day}, ${delivery.timezone})`,
  ];
  for (const u of delivery.upstreams) {
    const note = delivery.embeddedOutbox
      ? "  (the embedded outbox: no upstream configured)"
      : u.configured
        ? ""
        : "  (not in the config any more)";
    lines.push(`${u.name.padEnd(width)}  ${String(u.today).padStart(7)}  ${limitText(u.today, u.dailyLimit)}${note}`);
  }
  return lines;
}

export function statTable(stat: SpoolStat): string {
  const { mails, bytes } = stat;
  const lines = [`${"STATE".padEnd(9)}  ${"MAILS".padStart(7)}`];
  for (const [state, count] of Object.entries(mails)) lines.push(`${state.padEnd(9)}  ${String(count).padStart(7)}`);
  lines.push("", ...queueLines(stat));
  lines.push(
    `disk: spool/ ${formatBytes(bytes.spool.bytes)} in ${plural(bytes.spool.segments, "segment")}, ` +
      `archive/ ${formatBytes(bytes.archive.bytes)} in ${plural(bytes.archive.segments, "segment")}, ` +
      `blobs/ ${formatBytes(bytes.blobs.bytes)} in ${plural(bytes.blobs.files, "file")}`,
  );
  lines.push("", ...upstreamLines(stat));
  return `${lines.join("\n")}\n`;
}
