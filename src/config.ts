// Owns the configuration: finding app.yaml (-c > MAILSPOOL_CONFIG > ./app.yaml > embedded
// default), reading it, ${VAR} / ${VAR:-default} substitution, the MAILSPOOL_* environment
// overrides, validation (schema in ./config-schema.ts), path resolution and masking secrets
// for display. This is the only module that reads config files or process.env; everything
// else receives a frozen Config.
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { configSchema, splitListen, type Config } from "./config-schema.js";

export type { Config } from "./config-schema.js";

/** A configuration problem. `message` is "<keyPath>: <reason>"; keyPath "config" = the file itself. */
export class ConfigError extends Error {
  constructor(
    readonly keyPath: string,
    message: string,
  ) {
    super(`${keyPath}: ${message}`);
    this.name = "ConfigError";
  }
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file, or null = embedded default. */
  source: string | null;
  /** Absolute data directory (= config.spool.dir). */
  dataDir: string;
}

export function parseListen(listen: string): { host: string; port: number } {
  const r = splitListen(listen);
  if (typeof r === "string") throw new ConfigError("listen", r);
  return r;
}

function existingFile(file: string, origin: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ConfigError("config", `config file not found: ${file} (${origin})`);
  }
  if (!st.isFile()) throw new ConfigError("config", `not a file: ${file} (${origin})`);
  return file;
}

export function resolveConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | null {
  if (explicit !== undefined) {
    if (explicit === "") throw new ConfigError("config", "-c was given an empty path");
    return existingFile(path.resolve(cwd, explicit), "given with -c");
  }
  const fromEnv = env.MAILSPOOL_CONFIG;
  if (fromEnv) return existingFile(path.resolve(cwd, fromEnv), "from MAILSPOOL_CONFIG");
  const local = path.resolve(cwd, "app.yaml");
  return fs.existsSync(local) ? local : null;
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? String(s) : `.${String(s)}`;
  return out || "config";
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Substitutes ${VAR} / ${VAR:-default} in every string; `$${` is a literal `${`. Drops null mapping values (= unset). */
function substitute(value: unknown, at: PropertyKey[], env: NodeJS.ProcessEnv): unknown {
  if (typeof value === "string") {
    return value.replace(REF, (whole, escaped: string, name: string, dflt: string | undefined) => {
      if (escaped) return whole.slice(1);
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (dflt !== undefined) return dflt;
      throw new ConfigError(
        formatPath(at),
        `environment variable ${name} is not set${v === "" ? " (it is empty)" : ""}`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, [...at, i], env));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = substitute(v, [...at, k], env);
    return out;
  }
  return value;
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError("config", `cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `:${pos.line}:${pos.col}` : "";
      const reason = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      throw new ConfigError("config", `YAML syntax error in ${file}${where}: ${reason}`);
    }
    throw new ConfigError("config", `cannot parse ${file}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc))
    throw new ConfigError("config", `${file}: the top level must be a mapping of sections (server:, spool:, …)`);
  return doc;
}

const ENV_OVERRIDES = [
  ["MAILSPOOL_LISTEN", "server", "listen"],
  ["MAILSPOOL_DATA_DIR", "spool", "dir"],
  ["MAILSPOOL_LOG_LEVEL", "log", "level"],
] as const;

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string): Map<string, string> {
  const applied = new Map<string, string>();
  for (const [name, section, key] of ENV_OVERRIDES) {
    const v = env[name];
    if (!v) continue;
    const target = raw[section] ?? (raw[section] = {});
    if (!isPlainObject(target)) continue; // the schema reports the bad section
    target[key] = name === "MAILSPOOL_DATA_DIR" ? path.resolve(cwd, v) : v;
    applied.set(`${section}.${key}`, name);
  }
  return applied;
}

type Issue = z.core.$ZodIssue;

function describe(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type": {
      if (iss.input === undefined) return "is required";
      // never echo the value: it may be a secret
      const got = Array.isArray(iss.input)
        ? "a list"
        : iss.input === null
          ? "null"
          : typeof iss.input === "object"
            ? "a mapping"
            : `a ${typeof iss.input}`;
      if (iss.expected === "int")
        return typeof iss.input === "number" ? "must be an integer" : `must be an integer, got ${got}`;
      const what =
        { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false" }[
          iss.expected as string
        ] ?? iss.expected;
      return `must be ${what}, got ${got}${iss.expected === "string" && typeof iss.input !== "object" ? " (put it in quotes)" : ""}`;
    }
    case "too_small":
      if (iss.origin === "string")
        return Number(iss.minimum) <= 1 ? "must not be empty" : `must be at least ${iss.minimum} characters`;
      if (iss.origin === "array") return `must have at least ${iss.minimum} entries`;
      return `must be ${iss.inclusive ? "≥" : ">"} ${iss.minimum}`;
    case "too_big":
      return `must be ${iss.inclusive ? "≤" : "<"} ${iss.maximum}`;
    case "invalid_value":
      return `must be one of: ${iss.values.map((v) => String(v)).join(", ")}`;
    default:
      return undefined;
  }
}

function toConfigError(issues: readonly Issue[], overrides: Map<string, string>): ConfigError {
  const items: [string, string][] = [];
  for (const iss of issues) {
    const base = iss.path;
    if (iss.code === "unrecognized_keys")
      for (const k of iss.keys) items.push([formatPath([...base, k]), "unknown key"]);
    else {
      const at = formatPath(base);
      const env = overrides.get(at);
      items.push([at, env ? `${iss.message} (from ${env})` : iss.message]);
    }
  }
  const [first, ...rest] = items;
  if (!first) return new ConfigError("config", "invalid configuration");
  const more = rest.map(([p, m]) => `; ${p}: ${m}`).join("");
  return new ConfigError(first[0], first[1] + more);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(opts: { explicitPath?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const source = resolveConfigPath(opts.explicitPath, env, cwd);
  const raw = source ? (substitute(readYaml(source), [], env) as Record<string, unknown>) : {};
  const overrides = applyEnvOverrides(raw, env, cwd);

  const parsed = configSchema.safeParse(raw, { error: describe });
  if (!parsed.success) throw toConfigError(parsed.error.issues, overrides);
  const config = parsed.data;

  const base = source ? path.dirname(source) : cwd;
  const abs = (p: string) => (p === "" ? "" : path.resolve(base, p));
  config.spool.dir = abs(config.spool.dir);
  for (const tls of [config.server.tls, config.smtpIntake.tls]) {
    tls.cert = abs(tls.cert);
    tls.key = abs(tls.key);
  }
  if (config.spool.minFreeBytes === 0) config.spool.minFreeBytes = Math.ceil(1.5 * config.server.maxBodyBytes);

  return deepFreeze({ config, source, dataDir: config.spool.dir });
}

/** A deep copy for display: every `pass`, `token` and tls `key` becomes "***" (empty stays empty). */
export function maskSecrets(config: Config): unknown {
  const walk = (v: unknown, key: string, parent: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, "", key));
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k, key)]));
    const secret = key === "pass" || key === "token" || (key === "key" && parent === "tls");
    if (secret && typeof v === "string" && v !== "") return "***";
    if (key === "webhook" && typeof v === "string") return v.replace(/^(https?:\/\/[^:/@\s]*):[^@/\s]*@/, "$1:***@");
    return v;
  };
  return walk(config, "", "");
}
