// The MAILSPOOL_* environment overrides (they win over app.yaml), so a container needs no
// mounted config for the common case: MAILSPOOL_LISTEN, MAILSPOOL_DATA_DIR,
// MAILSPOOL_LOG_LEVEL, MAILSPOOL_ALLOW (comma-separated CIDRs; loopback stays allowed) and
// MAILSPOOL_UPSTREAM (one upstream from smtp[s]://user:pass@host:port?key=value).
// An empty variable counts as unset. Pure: the caller passes the environment.
import path from "node:path";
import ipaddr from "ipaddr.js";
import type { ConfigIssue } from "./config-issues.js";
import { LOOPBACK_CIDRS } from "./config-schema.js";
import { isHostName } from "./config-values.js";

export interface AppliedOverrides {
  /** Key path → the variable that set it. */
  applied: Map<string, string>;
  issues: ConfigIssue[];
}

type Raw = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

const usage = "must be smtp[s]://user:pass@host:port (smtps = implicit TLS)";
const inUrlOnly = ["host", "port", "secure", "user", "pass"];

/** The upstream a MAILSPOOL_UPSTREAM URL describes, or why it cannot. Never echoes the URL: it holds a password. */
export function upstreamFromUrl(value: string): Raw | string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return `${usage}; this is not a URL`;
  }
  const scheme = url.protocol.replace(/:$/, "").toLowerCase();
  if (scheme !== "smtp" && scheme !== "smtps") return `${usage}, got ${scheme}://`;
  if (url.pathname !== "" && url.pathname !== "/") return `${usage}; a path is not expected`;
  if (url.hash !== "") return `${usage}; a #fragment is not expected`;
  const bracketed = url.hostname.startsWith("[");
  const host = bracketed ? url.hostname.slice(1, -1) : url.hostname;
  if (bracketed ? !ipaddr.IPv6.isValid(host) : !isHostName(host)) return `${usage}; invalid host "${host}"`;
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(url.username);
    pass = decodeURIComponent(url.password);
  } catch {
    return `${usage}; the user or password has an invalid %-escape`;
  }
  const upstream: Raw = { name: host, host, secure: scheme === "smtps" };
  if (url.port !== "") upstream.port = url.port;
  if (user !== "" || pass !== "") Object.assign(upstream, { user, pass });
  const given = new Set<string>();
  for (const [key, v] of url.searchParams) {
    if (inUrlOnly.includes(key)) return `${usage}; give ${key} in the URL itself, not as ?${key}=`;
    if (given.has(key)) return `${usage}; ?${key}= is given twice`;
    given.add(key);
    upstream[key] = v;
  }
  return upstream;
}

type Reading = { value: unknown } | { problem: string };

function allowList(value: string): Reading {
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  // loopback stays: the container's own healthcheck and CLI call the relay from there
  return entries.length
    ? { value: [...entries, ...LOOPBACK_CIDRS] }
    : { problem: "lists no CIDR (comma-separated, e.g. 192.168.1.0/24,10.0.0.0/8)" };
}

function upstreams(value: string): Reading {
  const upstream = upstreamFromUrl(value);
  return typeof upstream === "string" ? { problem: upstream } : { value: [upstream] };
}

const overrides: [variable: string, section: string, key: string, read: (v: string, cwd: string) => Reading][] = [
  ["MAILSPOOL_LISTEN", "server", "listen", (v) => ({ value: v })],
  ["MAILSPOOL_ALLOW", "server", "allow", allowList],
  ["MAILSPOOL_DATA_DIR", "spool", "dir", (v, cwd) => ({ value: path.resolve(cwd, v) })],
  ["MAILSPOOL_UPSTREAM", "delivery", "upstreams", upstreams],
  ["MAILSPOOL_LOG_LEVEL", "log", "level", (v) => ({ value: v })],
];

/** Writes each set variable into `raw` (the substituted app.yaml); a value it cannot use is an issue naming it. */
export function applyEnvOverrides(raw: Raw, env: NodeJS.ProcessEnv, cwd: string): AppliedOverrides {
  const result: AppliedOverrides = { applied: new Map(), issues: [] };
  for (const [variable, section, key, read] of overrides) {
    const v = env[variable];
    if (!v) continue;
    const keyPath = `${section}.${key}`;
    result.applied.set(keyPath, variable);
    const reading = read(v, cwd);
    if ("problem" in reading) {
      result.issues.push({ keyPath, at: [section, key], message: reading.problem, origin: { variable } });
      continue;
    }
    const target = raw[section] ?? (raw[section] = {});
    if (isPlainObject(target)) target[key] = reading.value; // else the schema reports the bad section
  }
  return result;
}

/** The variable that set `keyPath` or a key under it. */
export function overrideOf(applied: Map<string, string>, keyPath: string): string | undefined {
  for (const [prefix, variable] of applied)
    if (keyPath === prefix || keyPath.startsWith(`${prefix}.`) || keyPath.startsWith(`${prefix}[`)) return variable;
  return undefined;
}
