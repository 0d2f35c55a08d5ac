// "90s", "30m", "2h", "7d" or an ISO date → the instant that long ago (or that date).

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSince(value: string, now: Date = new Date()): Date | null {
  const match = /^(\d+)([smhd])$/.exec(value.trim());
  if (match) return new Date(now.getTime() - Number(match[1]) * units[match[2]!]!);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
