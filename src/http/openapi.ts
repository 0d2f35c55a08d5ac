// The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the code uses: the
// send fields (intake/mail-schema.ts: what every encoding, the multipart reader included,
// takes), the routes' query and body schemas, and each route's answer schema (which types
// what it answers). zod's own z.toJSONSchema writes JSON Schema 2020-12, OpenAPI 3.1's
// dialect, so no second description is kept by hand. Limits that come from the config
// (server.maxBatch) are the running config's.
import { z } from "zod";
import type { Config } from "../config.js";
import { idempotencyKeySchema } from "../intake/idempotency.js";
import { jsonSendSchema, multipartSendSchema, requestFieldsSchema } from "../intake/mail-schema.js";
import { mailspoolVersion } from "../version.js";
import { errorSchema, mailIdSchema, successSchema } from "./api-schemas.js";
import { cancelAnswerSchema, pausedSchema, retryAnswerSchema, retryFilterSchema } from "./routes/admin.js";
import { batchAnswerSchema } from "./routes/batch.js";
import { healthSchema } from "./routes/health.js";
import { metricsJsonSchema } from "./routes/metrics.js";
import { listAnswerSchema, listQuerySchema } from "./routes/records.js";
import { sendAnswerSchema } from "./routes/send.js";
import { mailStatusSchema } from "./routes/status.js";

type Io = "input" | "output";

/** A zod schema as an OpenAPI 3.1 Schema Object: requests as they are sent (input), answers as they are written (output). */
function schemaOf(schema: z.ZodType, io: Io): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  });
  return rest;
}

const jsonContent = (schema: z.ZodType, io: Io = "output") => ({
  "application/json": { schema: schemaOf(schema, io) },
});

const refusals = {
  400: "Param is invalid: `data.errors` names each field at fault",
  401: "A bearer token is required (tokens are configured), or it is wrong",
  403: "The client address is not allowed, or the token lacks the scope",
  404: "No such mail (another client's mail answers the same)",
  409: "Idempotency-Key already used for a different request",
  413: "The body is over server.maxBodyBytes",
  415: "A Content-Type the endpoint does not take",
  429: "A quota is used up: Retry-After (and data.retryAfter) says for how many seconds",
  503: "Shutting down, or the spool hit an I/O error",
  507: "The spool disk is below its reserve, or full",
} as const;

type Refusal = keyof typeof refusals;

function responses(ok: Record<string, unknown>, refused: Refusal[]) {
  const answers: Record<string, unknown> = { 200: ok };
  for (const status of refused) answers[status] = { description: refusals[status], content: jsonContent(errorSchema) };
  return answers;
}

const answer = (description: string, data: z.ZodType) => ({
  description,
  content: jsonContent(successSchema(data)),
});

const access: Refusal[] = [401, 403];
const intakeRefusals: Refusal[] = [400, ...access, 409, 413, 415, 429, 503, 507];

const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  schema: schemaOf(idempotencyKeySchema, "input"),
};
const mailIdParameter = { name: "id", in: "path", required: true, schema: schemaOf(mailIdSchema, "input") };

/** Each member of an object schema as a query parameter. */
function queryParameters(schema: z.ZodObject) {
  return Object.entries(schema.shape).map(([name, member]) => ({
    name,
    in: "query",
    required: !(member as z.ZodType).safeParse(undefined).success,
    schema: schemaOf(member as z.ZodType, "input"),
  }));
}

/** The document for this config. */
export function openApiDocument(config: Config) {
  const sendBodies = {
    "multipart/form-data": { schema: schemaOf(multipartSendSchema, "input") },
    "application/x-www-form-urlencoded": { schema: schemaOf(requestFieldsSchema, "input") },
    "application/json": { schema: schemaOf(jsonSendSchema, "input") },
  };
  const batchBody = z.array(jsonSendSchema).min(1).max(config.server.maxBatch);
  const adminNote = "Only from admin.allow (loopback by default); with tokens, an `admin` token.";
  return {
    openapi: "3.1.0",
    info: {
      title: "mailspool",
      version: mailspoolVersion,
      description:
        "Outbound mail relay: durable intake, JSON-lines spool, SMTP delivery. Every answer but /health, " +
        "/metrics and this document is the `{code, message, data}` envelope. A known path asked with a " +
        "method it does not take answers 405 with `Allow`. The web console (/console) is pages for people, " +
        "not described here.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "server.tokens, when configured" } },
    },
    // no token at all when server.tokens is empty
    security: [{}, { bearer: [] }],
    paths: {
      "/api/email/send": {
        post: {
          summary: "Send one mail",
          description: "Scope `send`. Answered once the mail is durable.",
          parameters: [idempotencyKey],
          requestBody: { required: true, content: sendBodies },
          responses: responses(answer("Accepted", sendAnswerSchema), intakeRefusals),
        },
      },
      "/api/email/batch": {
        post: {
          summary: "Send a batch of mails, all or none",
          description:
            "Scope `send`. Each element as the JSON body of /api/email/send; at most server.maxBatch. A 400 " +
            "names each failing element's fields as `[i].field` and stores nothing. One commit for the whole " +
            "batch; the Idempotency-Key covers the batch.",
          parameters: [idempotencyKey],
          requestBody: { required: true, content: { "application/json": { schema: schemaOf(batchBody, "input") } } },
          responses: responses(answer("Accepted, ids in the order sent", batchAnswerSchema), intakeRefusals),
        },
      },
      "/api/email/{id}": {
        get: {
          summary: "A mail's state, recipients, attachments and attempts",
          description: "Scope `read` (own mails) or `admin`.",
          parameters: [mailIdParameter],
          responses: responses(answer("The mail", mailStatusSchema), [...access, 404]),
        },
      },
      "/api/email": {
        get: {
          summary: "The send records, newest first",
          description:
            "Scope `read` (own mails) or `admin`. Filters apply before the limit; a full page carries `next`, " +
            "passed as `before` for the page after it. `state=failed` / `state=partial` is the failed spool.",
          parameters: queryParameters(listQuerySchema),
          responses: responses(answer("A page of mails", listAnswerSchema), [400, ...access]),
        },
      },
      "/admin/pause": {
        post: {
          summary: "Pause delivery (intake keeps accepting)",
          description: adminNote,
          responses: responses(answer("Paused", pausedSchema), access),
        },
      },
      "/admin/resume": {
        post: {
          summary: "Resume delivery",
          description: adminNote,
          responses: responses(answer("Resumed", pausedSchema), access),
        },
      },
      "/admin/cancel/{id}": {
        post: {
          summary: "Cancel a queued, deferred or failed mail",
          description: adminNote,
          parameters: [mailIdParameter],
          responses: responses(answer("Cancelled", cancelAnswerSchema), [...access, 404, 409]),
        },
      },
      "/admin/retry-failed": {
        post: {
          summary: "Re-drive the failed spool",
          description: adminNote,
          requestBody: { required: false, content: jsonContent(retryFilterSchema, "input") },
          responses: responses(answer("One result per mail", retryAnswerSchema), [400, ...access]),
        },
      },
      "/health": {
        get: {
          summary: "Whether intake can accept mail (200) or not (503), and why not `ok`",
          description: "No token needed from loopback.",
          security: [{}],
          responses: {
            200: { description: "Intake accepts mail (`ok` or `degraded`)", content: jsonContent(healthSchema) },
            503: { description: "Intake cannot accept mail", content: jsonContent(healthSchema) },
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus text, or the JSON totals with ?format=json or Accept: application/json",
          description: `${adminNote} No token needed from loopback.`,
          parameters: [{ name: "format", in: "query", required: false, schema: { type: "string", enum: ["json"] } }],
          responses: responses(
            {
              description: "The figures",
              content: { "text/plain": { schema: { type: "string" } }, ...jsonContent(metricsJsonSchema) },
            },
            access,
          ),
        },
      },
      "/openapi.json": {
        get: {
          summary: "This document",
          description: "Scope `read` or `admin`: whoever may read mail states may read the API.",
          responses: responses(
            { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } },
            access,
          ),
        },
      },
    },
  };
}
