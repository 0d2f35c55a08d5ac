// The zod schema of app.yaml (SPEC.md "Config"): every key, its default and its
// validation. Pure: no file or environment access (src/config.ts loads, substitutes,
// resolves paths and freezes). Key names here are the public contract.
import { z } from "zod";
import { canonicalDomain } from "./address.js";
import {
  isHostName,
  isHttpUrl,
  isValidTimeZone,
  listensOverlap,
  normalizeCidr,
  splitListen,
  webhookSecretBytes,
} from "./config-values.js";
import { cronPatternProblem } from "./cron-pattern.js";

export { splitListen } from "./config-values.js";

export const LOOPBACK_CIDRS = ["127.0.0.0/8", "::1/128"] as const;
/** The mail outcomes an event webhook can subscribe to. */
export const WEBHOOK_EVENTS = ["sent", "deferred", "failed", "partial", "cancelled"] as const;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

// Numbers and booleans may arrive as strings after ${VAR} substitution ("${PORT:-587}").
/** What a journal message may need for a body: its record carries inline attachments as base64 (4/3), plus fields. */
const journalBytesFor = (bodyBytes: number) => Math.ceil((bodyBytes * 4) / 3) + 65_536;

function isAmqpUrl(v: string): boolean {
  try {
    const url = new URL(v);
    return (url.protocol === "amqp:" || url.protocol === "amqps:") && url.hostname !== "";
  } catch {
    return false;
  }
}

const numeric = (v: unknown) => (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
const boolish = (v: unknown) => (v === "true" ? true : v === "false" ? false : v);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(numeric, z.number().int().min(min).max(max));
const num = (min: number, exclusive = false) =>
  z.preprocess(numeric, exclusive ? z.number().gt(min) : z.number().min(min));
const bool = () => z.preprocess(boolish, z.boolean());
const port = () => int(1, 65535);

const listen = (dflt: string) =>
  z
    .string()
    .superRefine((v, ctx) => {
      const r = splitListen(v);
      if (typeof r === "string") ctx.addIssue({ code: "custom", message: r });
    })
    .default(dflt);

const cidrList = (dflt: readonly string[]) =>
  z
    .array(
      z.string().transform((v, ctx) => {
        const n = normalizeCidr(v);
        if (n === null)
          ctx.addIssue({ code: "custom", message: `invalid CIDR "${v}" (e.g. 10.0.0.0/8, fd00::/8 or a single IP)` });
        return n ?? v;
      }),
    )
    .default(() => [...dflt]);

const tls = () =>
  z
    .strictObject({ cert: z.string().default(""), key: z.string().default("") })
    .superRefine((t, ctx) => {
      if ((t.cert === "") !== (t.key === ""))
        ctx.addIssue({
          code: "custom",
          path: [t.cert === "" ? "cert" : "key"],
          message: "tls cert and key must both be set or both be empty",
        });
    })
    .prefault({});

/** Adds an issue at [i, field] for each repeated value of `field` in an array of objects. */
function unique<T>(field: keyof T & string, what: string, reveal = true) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<unknown, number>();
    items.forEach((item, i) => {
      const v = item[field];
      const first = seen.get(v);
      if (first !== undefined)
        ctx.addIssue({
          code: "custom",
          path: [i, field],
          message: `duplicate ${what}${reveal ? ` "${String(v)}"` : ""} (also at index ${first})`,
        });
      else seen.set(v, i);
    });
  };
}

const email = z
  .string()
  .regex(/^[^\s@<>",;]+@[^\s@<>",;]+$/, "must be a bare email address like mailspool@example.com");

/** RFC 8314: 465 is implicit TLS (`secure`), 587 submission with STARTTLS; either one implies the other. */
export const IMPLICIT_TLS_PORT = 465;
export const SUBMISSION_PORT = 587;

const upstream = z
  .strictObject({
    name: z.string().min(1),
    host: z
      .string()
      .min(1)
      .refine(isHostName, 'must be a host name or IP address alone (the port goes in port:, no "smtp://")'),
    port: port().optional(),
    secure: bool().optional(),
    requireTLS: bool().default(true),
    rejectUnauthorized: bool().default(true),
    user: z.string().default(""),
    pass: z.string().default(""),
    maxConnections: int(1).default(5),
    ratePerSecond: num(0, true).default(10),
    burst: int(1).default(20),
    dailyLimit: int(0).default(0),
  })
  .superRefine((u, ctx) => {
    if ((u.user === "") !== (u.pass === ""))
      ctx.addIssue({
        code: "custom",
        path: [u.user === "" ? "user" : "pass"],
        message: "user and pass must both be set or both be empty",
      });
  })
  .transform(({ name, host, port, secure, ...rest }) => {
    const implicitTls = secure ?? port === IMPLICIT_TLS_PORT;
    const effectivePort = port ?? (implicitTls ? IMPLICIT_TLS_PORT : SUBMISSION_PORT);
    return { name, host, port: effectivePort, secure: implicitTls, ...rest };
  });

/** What a bearer token may do (README "Access"): `read` sees its own mails, `admin` every mail and /admin/*. */
export const TOKEN_SCOPES = ["send", "read", "admin"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

const bearerToken = z.strictObject({
  name: z.string().min(1),
  token: z
    .string()
    .min(16, "must be at least 16 characters")
    // it travels as `Authorization: Bearer <token>`: a space or non-ASCII byte could never match
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
  scopes: z
    .array(z.enum(TOKEN_SCOPES))
    .min(1, `must list at least one of ${TOKEN_SCOPES.join(", ")}`)
    .transform((scopes) => TOKEN_SCOPES.filter((s) => scopes.includes(s)))
    .default((): TokenScope[] => ["send", "read"]),
});

/** RFC 6376 §3.1: a selector is one or more DNS labels (underscores are used and resolve). */
const selectorLabel = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** `domain` is kept in the canonical form of ./address.ts (lowercase, IDNA ASCII), as From domains are compared. */
const dkimKey = z.strictObject({
  domain: z.string().transform((v, ctx) => {
    const canonical = v.startsWith("[")
      ? { reason: "must be a domain name, not an address literal" }
      : canonicalDomain(v);
    if ("reason" in canonical) ctx.addIssue({ code: "custom", message: canonical.reason });
    return "domain" in canonical ? canonical.domain : v;
  }),
  selector: z
    .string()
    .refine(
      (v) => v.split(".").every((l) => selectorLabel.test(l)),
      "must be one or more DNS labels (letters, digits, - and _), like mail2026",
    ),
  // PEM text (from ${VAR}) or a PEM file path; read and checked with the other files (./config-dkim.ts)
  privateKey: z.string().min(1),
});

const quotaWindow = () => z.strictObject({ hour: int(0).default(0), day: int(0).default(0) }).prefault({});

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        listen: listen("127.0.0.1:8100"),
        allow: cidrList(LOOPBACK_CIDRS),
        trustProxy: cidrList([]),
        tokens: z
          .array(bearerToken)
          .superRefine(unique("name", "token name"))
          .superRefine(unique("token", "token value", false))
          .default(() => []),
        maxBodyBytes: int(1).default(26214400),
        maxBatch: int(1).default(100),
        tls: tls(),
      })
      .prefault({}),
    spool: z
      .strictObject({
        dir: z.string().min(1).default("./data"),
        minFreeBytes: int(-1).default(0),
        retentionDays: int(0).default(30),
        inlineMaxBytes: int(0).default(65536),
        segmentMaxBytes: int(4096).default(64 * 1024 * 1024),
      })
      .prefault({}),
    delivery: z
      .strictObject({
        from: email.default("mailspool@localhost"),
        workers: int(1).default(5),
        maxRecipients: int(1).default(100),
        maxScheduleDays: num(0, true).default(30),
        connectTimeoutSeconds: num(0, true).default(30),
        socketTimeoutSeconds: num(0, true).default(120),
        timezone: z
          .string()
          .refine(
            (v) => v === "" || isValidTimeZone(v),
            'must be "" (the host\'s zone) or an IANA time zone like Europe/Paris',
          )
          .default(""),
        batch: z
          .strictObject({
            size: int(1).default(20),
            delayMs: int(0).default(1000),
            continueOnError: bool().default(true),
          })
          .prefault({}),
        retry: z
          .strictObject({
            attempts: int(1).default(5),
            baseSeconds: num(0, true).default(30),
            maxSeconds: num(0, true).default(1800),
          })
          .superRefine((r, ctx) => {
            if (r.maxSeconds < r.baseSeconds)
              ctx.addIssue({ code: "custom", path: ["maxSeconds"], message: "must be ≥ baseSeconds" });
          })
          .prefault({}),
        upstreams: z
          .array(upstream)
          .superRefine(unique("name", "upstream name"))
          .default(() => []),
      })
      .prefault({}),
    dkim: z
      .array(dkimKey)
      .superRefine(unique("domain", "dkim domain"))
      .default(() => []),
    failed: z
      .strictObject({
        rescan: z
          .string()
          .trim()
          .min(1, 'must be a croner pattern like "0 * * * *"')
          .superRefine((pattern, ctx) => {
            const problem = cronPatternProblem(pattern);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          .default("0 * * * *"),
        maxAgeHours: num(0, true).default(120),
        notify: z
          .strictObject({
            webhook: z
              .string()
              .refine(
                (v) => v === "" || isHttpUrl(v),
                'must be "" or an http(s) URL like https://hooks.example.com/mail',
              )
              .default(""),
          })
          .prefault({}),
      })
      .prefault({}),
    webhooks: z
      .array(
        z.strictObject({
          url: z.string().refine(isHttpUrl, "must be an http(s) URL like https://hooks.example.com/mailspool"),
          events: z
            .array(z.enum(WEBHOOK_EVENTS))
            .min(1, `must list at least one of ${WEBHOOK_EVENTS.join(", ")}`)
            .default(() => [...WEBHOOK_EVENTS]),
          secret: z.string().superRefine((v, ctx) => {
            const problem = webhookSecretBytes(v);
            if (typeof problem === "string") ctx.addIssue({ code: "custom", message: problem });
          }),
          maxAgeHours: num(0, true).default(24),
        }),
      )
      .superRefine(unique("url", "webhook url"))
      .default(() => []),
    quotas: z.strictObject({ perClient: quotaWindow(), global: quotaWindow() }).prefault({}),
    alerts: z
      .strictObject({
        oldestQueuedMinutes: num(0).default(30),
        failureRatePercent: z.preprocess(numeric, z.number().min(0).max(100)).default(20),
      })
      .prefault({}),
    admin: z.strictObject({ allow: cidrList(LOOPBACK_CIDRS) }).prefault({}),
    shutdown: z.strictObject({ graceSeconds: num(0).default(10) }).prefault({}),
    smtpIntake: z
      .strictObject({
        enabled: bool().default(false),
        listen: listen("127.0.0.1:2525"),
        requireAuth: bool().default(true),
        users: z
          .array(z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }))
          .superRefine(unique("user", "user"))
          .default(() => []),
        allow: cidrList(LOOPBACK_CIDRS),
        tls: tls(),
        keepSender: bool().default(false),
        maxClients: int(1, 10_000).default(100),
        dataTimeoutSeconds: int(1, 3600).default(300),
        authFailures: z
          .strictObject({
            perConnection: int(1, 100).default(3),
            perAddress: int(1, 10_000).default(10),
            windowSeconds: int(1, 86_400).default(900),
          })
          .prefault({}),
      })
      .superRefine((s, ctx) => {
        if (s.enabled && s.requireAuth && s.users.length === 0)
          ctx.addIssue({
            code: "custom",
            path: ["users"],
            message: "at least one user is needed when enabled and requireAuth are true",
          });
      })
      .prefault({}),
    // cluster mode (src/cluster/): "" = one host on its own spool
    broker: z
      .strictObject({
        url: z
          .string()
          .refine(
            (v) => v === "" || isAmqpUrl(v),
            'must be "" or an amqp(s) URL like amqp://user:pass@rabbit:5672/vhost',
          )
          .default(""),
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,100}$/, "must be 1-100 letters, digits, '.', '_' or '-'")
          .default("mailspool"),
        // RabbitMQ's max_message_size (default 128 MiB): a mail travels as one message
        maxMessageBytes: int(1024, 536_870_912).default(134_217_728),
        confirmTimeoutSeconds: int(1, 300).default(10),
      })
      .prefault({}),
    // <name>.html, .txt, .subject; relative to this file; "" = no templates (templates/template-set.ts)
    templates: z.strictObject({ dir: z.string().default("") }).prefault({}),
    log: z.strictObject({ level: z.enum(LOG_LEVELS).default("info"), bodies: bool().default(false) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.broker.url && journalBytesFor(c.server.maxBodyBytes) > c.broker.maxMessageBytes)
      ctx.addIssue({
        code: "custom",
        path: ["server", "maxBodyBytes"],
        message: `a mail this large may need ${journalBytesFor(c.server.maxBodyBytes)} bytes as one broker message (inline attachments as base64), more than broker.maxMessageBytes (${c.broker.maxMessageBytes})`,
      });
    if (c.smtpIntake.enabled && listensOverlap(c.server.listen, c.smtpIntake.listen))
      ctx.addIssue({
        code: "custom",
        path: ["smtpIntake", "listen"],
        message: `uses the same address and port as server.listen (${c.server.listen})`,
      });
  })
  .prefault({});

export type Config = z.output<typeof configSchema>;
