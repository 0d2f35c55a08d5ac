// mailspool healthcheck [-c app.yaml] [--url URL] [--timeout S]: for a container's
// HEALTHCHECK (the slim image has no curl). Exit 0 when the relay's GET /health answers 200
// (it can accept mail, `ok` or `degraded`), else 1 with one line saying why. Without --url
// the address is the relay's own server.listen, found like every command finds its data
// directory (-c, MAILSPOOL_CONFIG, ./app.yaml, default; MAILSPOOL_LISTEN), a wildcard
// host asked on loopback. A certificate is not verified: the question is whether it answers.
import http from "node:http";
import https from "node:https";
import { InvalidArgumentError, type Command } from "commander";
import { loadConfig, parseListen } from "../config.js";
import type { ConfigOption } from "./context.js";
import { printOut } from "./stdout.js";

interface HealthcheckOptions extends ConfigOption {
  url?: URL;
  timeout: number;
}

const bodyCap = 64 * 1024;
const loopbackFor: Record<string, string> = { "0.0.0.0": "127.0.0.1", "::": "::1" };

/** The /health URL of a relay listening on `listen` (host:port), asked from this host. */
export function healthUrlFor(listen: string, tls: boolean): URL {
  const { host, port } = parseListen(listen);
  if (port === 0) throw new Error(`server.listen ${listen} has port 0 (any free port): give --url`);
  const target = loopbackFor[host] ?? host;
  return new URL(`${tls ? "https" : "http"}://${target.includes(":") ? `[${target}]` : target}:${port}/health`);
}

function parseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("an http(s) URL like http://127.0.0.1:8100");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("an http(s) URL");
  if (url.pathname === "/") url.pathname = "/health";
  return url;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 300) throw new InvalidArgumentError("seconds, more than 0 and at most 300");
  return n;
}

interface Answer {
  status: number;
  body: string;
}

function get(url: URL, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === "https:" ? https : http;
    const request = client.get(url, { rejectUnauthorized: false, headers: { accept: "application/json" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < bodyCap) body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    request.on("error", reject);
    request.on("close", () => clearTimeout(timer));
  });
}

/** "degraded: paused, backlog" or the envelope's message, from a /health or error body. */
function summary(body: string): string {
  try {
    const json = JSON.parse(body) as { status?: unknown; reasons?: unknown; message?: unknown };
    if (typeof json.status === "string")
      return Array.isArray(json.reasons) && json.reasons.length
        ? `${json.status}: ${json.reasons.join(", ")}`
        : json.status;
    if (typeof json.message === "string") return json.message;
  } catch {
    // not JSON: the status code says enough
  }
  return "";
}

function why(error: NodeJS.ErrnoException): string {
  if (error.code === "ECONNREFUSED") return "connection refused (is mailspool serve running?)";
  return error.code && !error.message.includes(error.code) ? `${error.code}: ${error.message}` : error.message;
}

export async function healthcheck(url: URL, timeoutMs: number): Promise<string> {
  let answer: Answer;
  try {
    answer = await get(url, timeoutMs);
  } catch (error) {
    throw new Error(`unhealthy: ${url.href}: ${why(error as NodeJS.ErrnoException)}`);
  }
  const detail = summary(answer.body);
  const said = `${url.href} answered ${answer.status}${detail ? ` (${detail})` : ""}`;
  if (answer.status !== 200)
    throw new Error(`unhealthy: ${said}${answer.status === 503 ? ": the relay cannot accept mail" : ""}`);
  return `healthy: ${said}`;
}

export function registerHealthcheck(program: Command): void {
  program
    .command("healthcheck")
    .description("exit 0 when the relay's /health answers 200 (it can accept mail), else 1 saying why")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .option("--url <url>", "the relay's base URL or /health URL (default: from server.listen)", parseUrl)
    .option("--timeout <seconds>", "give up after this long", parseSeconds, 5)
    .action(async (options: HealthcheckOptions) => {
      let url = options.url;
      if (!url) {
        const { config } = loadConfig({ explicitPath: options.config });
        url = healthUrlFor(config.server.listen, config.server.tls.cert !== "");
      }
      printOut(`mailspool: ${await healthcheck(url, options.timeout * 1000)}\n`);
    });
}
