// Owns the configuration: finding app.yaml (-c > MAILSPOOL_CONFIG > ./app.yaml > embedded
// default), reading it, ${VAR} / ${VAR:-default} substitution, the MAILSPOOL_* environment
// overrides (./config-env.ts), validation (schema in ./config-schema.ts; with `checkFiles`
// also the TLS files, ./config-files.ts, and the DKIM keys, ./config-dkim.ts), path
// resolution and masking secrets for display.
// Every problem is collected and reported at once, each with its key path and origin. This
// is the only module that reads config files or process.env; everything else receives a
// frozen Config.
import fs from "node:fs";
import path from "node:path";
import { checkDkimKeys, isInlineKey, type DkimKey } from "./config-dkim.js";
import { applyEnvOverrides, overrideOf } from "./config-env.js";
import { checkTlsFiles, type TlsFiles } from "./config-files.js";
import { ConfigError, describe, formatPath, schemaIssues, type ConfigIssue } from "./config-issues.js";
import { configSchema, IMPLICIT_TLS_PORT, splitListen, SUBMISSION_PORT, type Config } from "./config-schema.js";
import { readYaml, type YamlFile } from "./config-yaml.js";
import { TemplateSet } from "./templates/template-set.js";

export type { Config } from "./config-schema.js";
export { ConfigError, formatIssue, type ConfigIssue } from "./config-issues.js";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file, or null = embedded default. */
  source: string | null;
  /** Absolute data directory (= config.spool.dir). */
  dataDir: string;
  /** Key path → the MAILSPOOL_* variable that set it. */
  overrides: ReadonlyMap<string, string>;
  /** Legal but probably not meant (an expired certificate, implicit TLS on port 587 …). */
  warnings: readonly ConfigIssue[];
  /** The `dkim` keys read and checked, in order; read with `checkFiles` only, else empty. */
  dkimKeys: readonly DkimKey[];
  /** templates.dir compiled, when set and loaded with `checkFiles`. */
  templates: TemplateSet | null;
}

export function parseListen(listen: string): { host: string; port: number } {
  const r = splitListen(listen);
  if (typeof r === "string") throw ConfigError.at("listen", r);
  return r;
}

function existingFile(file: string, origin: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw ConfigError.at("config", `config file not found: ${file} (${origin})`);
  }
  if (!st.isFile()) throw ConfigError.at("config", `not a file: ${file} (${origin})`);
  return file;
}

export function resolveConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | null {
  if (explicit !== undefined) {
    if (explicit === "") throw ConfigError.at("config", "-c was given an empty path");
    return existingFile(path.resolve(cwd, explicit), "given with -c");
  }
  const fromEnv = env.MAILSPOOL_CONFIG;
  if (fromEnv) return existingFile(path.resolve(cwd, fromEnv), "from MAILSPOOL_CONFIG");
  const local = path.resolve(cwd, "app.yaml");
  return fs.existsSync(local) ? local : null;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Substitutes ${VAR} / ${VAR:-default} in every string; `$${` is a literal `${`. Drops null
 * mapping values (= unset). An unset variable is an issue at its key; the value becomes "".
 */
function substitute(value: unknown, at: PropertyKey[], env: NodeJS.ProcessEnv, issues: ConfigIssue[]): unknown {
  if (typeof value === "string") {
    return value.replace(REF, (whole, escaped: string, name: string, dflt: string | undefined) => {
      if (escaped) return whole.slice(1);
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (dflt !== undefined) return dflt;
      issues.push({
        keyPath: formatPath(at),
        at,
        message: `environment variable ${name} is not set${v === "" ? " (it is empty)" : ""}`,
      });
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, [...at, i], env, issues));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = substitute(v, [...at, k], env, issues);
    return out;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface LoadOptions {
  explicitPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also read and check the files the config names (TLS certificates and keys, DKIM keys, templates): serve, SIGHUP and check-config. */
  checkFiles?: boolean;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const source = resolveConfigPath(opts.explicitPath, env, cwd);
  const file = source ? readYaml(source) : null;
  const issues: ConfigIssue[] = [];
  const raw = file ? (substitute(file.value, [], env, issues) as Record<string, unknown>) : {};
  const unset = new Set(issues.map((i) => i.keyPath));
  const { applied, issues: envIssues } = applyEnvOverrides(raw, env, cwd);
  issues.push(...envIssues);

  const base = source ? path.dirname(source) : cwd;
  const abs = (p: string) => (p === "" ? "" : path.resolve(base, p));
  const parsed = configSchema.safeParse(raw, { error: describe });
  // a key whose variable is unset already has its issue; its stand-in "" would only add noise
  if (!parsed.success) issues.push(...schemaIssues(parsed.error.issues).filter((i) => !unset.has(i.keyPath)));
  const files = opts.checkFiles ? checkTlsFiles(tlsFilesOf(raw, abs)) : { issues: [], warnings: [] };
  const dkim = opts.checkFiles ? checkDkimKeys(raw.dkim, abs) : { keys: [], issues: [] };
  issues.push(...files.issues, ...dkim.issues);
  const templates = opts.checkFiles && parsed.success ? loadTemplates(abs(parsed.data.templates.dir)) : null;
  if (templates && !(templates instanceof TemplateSet)) issues.push(...templates);
  const locate = (i: ConfigIssue) => locateIssue(i, source, file, applied);
  if (issues.length || !parsed.success) throw new ConfigError(sortByLine(issues.map(locate)));
  const config = parsed.data;

  config.spool.dir = abs(config.spool.dir);
  config.templates.dir = abs(config.templates.dir);
  for (const tls of [config.server.tls, config.smtpIntake.tls]) {
    tls.cert = abs(tls.cert);
    tls.key = abs(tls.key);
  }
  for (const entry of config.dkim) if (!isInlineKey(entry.privateKey)) entry.privateKey = abs(entry.privateKey);
  if (config.spool.minFreeBytes === 0) config.spool.minFreeBytes = Math.ceil(1.5 * config.server.maxBodyBytes);
  const warnings = [...files.warnings, ...portWarnings(config)].map(locate);
  const dkimKeys = opts.checkFiles
    ? config.dkim.map(({ domain, selector }, i) => ({ domain, selector, ...dkim.keys[i]! }))
    : [];
  const loaded = deepFreeze({ config, source, dataDir: config.spool.dir, overrides: applied, warnings, dkimKeys });
  return Object.freeze({ ...loaded, templates: templates instanceof TemplateSet ? templates : null });
}

/** templates.dir compiled, or its problems as issues at that key; null when unset. */
export function loadTemplates(dir: string): TemplateSet | ConfigIssue[] | null {
  if (dir === "") return null;
  const set = TemplateSet.load(dir);
  if (set instanceof TemplateSet) return set;
  const at = ["templates", "dir"];
  return set.problems.map((message) => ({ keyPath: "templates.dir", at, message }));
}

function locateIssue(
  issue: ConfigIssue,
  source: string | null,
  file: YamlFile | null,
  applied: Map<string, string>,
): ConfigIssue {
  if (issue.origin) return issue;
  const variable = overrideOf(applied, issue.keyPath);
  if (variable) return { ...issue, origin: { variable } };
  if (!source || !file || !issue.at) return issue;
  return { ...issue, origin: { file: source, line: file.lineOf(issue.at) } };
}

/** In file order; issues without a line (environment, the file itself) after those with one. */
function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  const line = (i: ConfigIssue) => (i.origin && "line" in i.origin && i.origin.line) || Number.MAX_SAFE_INTEGER;
  return issues
    .map((issue, order) => ({ issue, order }))
    .sort((a, b) => line(a.issue) - line(b.issue) || a.order - b.order)
    .map((x) => x.issue);
}

/** The TLS pairs of the raw config whose cert and key are both set (the schema reports a half-set pair). */
function tlsFilesOf(raw: Record<string, unknown>, abs: (p: string) => string): TlsFiles[] {
  return (["server", "smtpIntake"] as const).flatMap((section) => {
    const tls = isPlainObject(raw[section]) ? raw[section].tls : undefined;
    if (!isPlainObject(tls) || typeof tls.cert !== "string" || typeof tls.key !== "string") return [];
    if (tls.cert === "" || tls.key === "") return [];
    return [{ section: [section, "tls"] as const, cert: abs(tls.cert), key: abs(tls.key) }];
  });
}

/** An upstream whose explicit port and `secure` disagree fails its handshake or hangs until the timeout. */
function portWarnings(config: Config): ConfigIssue[] {
  return config.delivery.upstreams.flatMap((u, i): ConfigIssue[] => {
    const at = ["delivery", "upstreams", i, "port"];
    if (u.secure && u.port === SUBMISSION_PORT)
      return [
        {
          keyPath: formatPath(at),
          at,
          message: `${u.port} usually expects STARTTLS, but secure: true speaks TLS at once; did you mean port ${IMPLICIT_TLS_PORT}?`,
        },
      ];
    if (!u.secure && u.port === IMPLICIT_TLS_PORT)
      return [
        {
          keyPath: formatPath(at),
          at,
          message: `${u.port} expects TLS at once (implicit TLS), but secure: false; remove secure or set it to true`,
        },
      ];
    return [];
  });
}

/** A deep copy for display: every `pass`, `token`, tls `key`, PEM `privateKey` and webhook `secret` becomes "***" (empty stays empty; a key's path is shown); webhook URLs lose their password. */
export function maskSecrets(config: Config): unknown {
  const walk = (v: unknown, key: string, parent: string): unknown => {
    // an array's items are walked as the array's key: a webhooks item's fields have parent "webhooks"
    if (Array.isArray(v)) return v.map((x) => walk(x, key, parent));
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k, key)]));
    const secret =
      key === "pass" ||
      key === "token" ||
      (key === "key" && parent === "tls") ||
      (key === "privateKey" && typeof v === "string" && isInlineKey(v)) ||
      (key === "secret" && parent === "webhooks");
    if (secret && typeof v === "string" && v !== "") return "***";
    if (
      (key === "webhook" || (key === "url" && (parent === "webhooks" || parent === "broker"))) &&
      typeof v === "string"
    )
      return v.replace(/^((?:https?|amqps?):\/\/[^:/@\s]*):[^@/\s]*@/, "$1:***@");
    return v;
  };
  return walk(config, "", "");
}
