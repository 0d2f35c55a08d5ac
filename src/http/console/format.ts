// How the console writes times: ages as "45s", "12m", "3h 5m", "2d 4h".

export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** The age of an ISO time at `now`. */
export function age(iso: string, now: number): string {
  return duration((now - Date.parse(iso)) / 1000);
}
