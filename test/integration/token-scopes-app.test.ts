// Token scopes in memory (Hono app.request() over the real spool, intake and delivery of an
// in-process relay): every scope set × every endpoint, which mails each token sees (the
// list filtered before its limit), generated token sets swapped in by the reload path, and
// the unchanged behaviour without tokens.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { ulid } from "ulid";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { TOKEN_SCOPES, type TokenScope } from "../../src/config-schema.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/log.js";
import { compactSpool } from "../../src/spool/compact.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { waitFor } from "../helpers/tmp-dir.js";

const LAN = "10.1.2.3";
const LOOPBACK = "127.0.0.1";
// small segments, so the archive test has finished segments to move (a restart-only key: in every reload too)
const SPOOL = "spool:\n  segmentMaxBytes: 4096";

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  relay = await startInProcess(SPOOL);
  app = createApp(relay.app);
  // mails stay queued, so any of them can be cancelled and none changes under a test
  await relay.app.admin.setPaused(true);
});
afterAll(async () => {
  await relay.stop();
});

interface TokenSpec {
  name: string;
  scopes: readonly TokenScope[];
}
const secret = (name: string) => `${name}-secret-0123456789`;

/** Writes app.yaml and applies it through the SIGHUP reload path. */
function configure(tokens: readonly TokenSpec[], extra: string[] = []): void {
  const lines = [
    SPOOL,
    "server:",
    `  allow: ["127.0.0.0/8", "10.0.0.0/8"]`,
    ...(tokens.length ? ["  tokens:"] : []),
    ...tokens.map((t) => `    - { name: ${t.name}, token: ${secret(t.name)}, scopes: [${t.scopes.join(", ")}] }`),
    ...extra,
  ];
  if (!extra.some((l) => l.startsWith("admin:"))) lines.push("admin:", `  allow: ["127.0.0.0/8", "10.0.0.0/8"]`);
  fs.writeFileSync(path.join(relay.dir, "app.yaml"), lines.join("\n"));
  relay.reload(loadConfig({ cwd: relay.dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } }));
}

interface Call {
  method?: string;
  token?: string;
  from?: string;
  body?: string;
  headers?: Record<string, string>;
}
async function call(target: string, { method = "GET", token, from = LAN, body, headers = {} }: Call = {}) {
  const response = await app.request(
    target,
    { method, body, headers: { ...headers, ...(token ? { authorization: `Bearer ${secret(token)}` } : {}) } },
    { remoteAddress: from },
  );
  return { status: response.status, body: (await response.json()) as { code: number; message: string; data: any } };
}

const sendBody = new URLSearchParams({ title: "t", content: "<p>c</p>", receiver: "a@example.com" }).toString();
const send = (token: string | undefined, from = LAN) =>
  call("/api/email/send", {
    method: "POST",
    token,
    from,
    body: sendBody,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });

/** Sends as a token that may send and returns the id. */
async function mailOf(token: string | undefined): Promise<string> {
  const answer = await send(token);
  expect(answer.status).toBe(200);
  return answer.body.data.id;
}

const noSuchMail = { code: 404, message: "No such mail", data: null };

// The endpoints and the scope each needs (null: any valid token). `ok` is the answer when allowed.
const endpoints: {
  name: string;
  scope: TokenScope | null;
  ok: number;
  run: (token?: string) => ReturnType<typeof call>;
}[] = [
  { name: "POST /api/email/send", scope: "send", ok: 200, run: (token) => send(token) },
  {
    name: "POST /api/email/batch",
    scope: "send",
    ok: 200,
    run: (token) =>
      call("/api/email/batch", {
        method: "POST",
        token,
        body: JSON.stringify([{ title: "t", content: "<p>c</p>", receiver: "a@example.com" }]),
        headers: { "content-type": "application/json" },
      }),
  },
  // an id that exists nowhere: allowed → 404, not allowed → 403 (scope is checked first)
  { name: "GET /api/email/:id", scope: "read", ok: 404, run: (token) => call(`/api/email/${ulid()}`, { token }) },
  { name: "GET /api/email", scope: "read", ok: 200, run: (token) => call("/api/email", { token }) },
  { name: "GET /openapi.json", scope: "read", ok: 200, run: (token) => call("/openapi.json", { token }) },
  {
    name: "POST /admin/pause",
    scope: "admin",
    ok: 200,
    run: (token) => call("/admin/pause", { method: "POST", token }),
  },
  {
    name: "POST /admin/resume",
    scope: "admin",
    ok: 200,
    run: (token) => call("/admin/resume", { method: "POST", token }),
  },
  {
    name: "POST /admin/retry-failed",
    scope: "admin",
    ok: 200,
    run: (token) => call("/admin/retry-failed", { method: "POST", token }),
  },
  {
    name: "POST /admin/cancel/:id",
    scope: "admin",
    ok: 200,
    run: async (token) => call(`/admin/cancel/${await mailOf("sender")}`, { method: "POST", token }),
  },
  { name: "GET /metrics (LAN)", scope: "admin", ok: 200, run: (token) => call("/metrics?format=json", { token }) },
  {
    name: "GET /metrics Accept: application/json (LAN)",
    scope: "admin",
    ok: 200,
    run: (token) => call("/metrics", { token, headers: { accept: "application/json" } }),
  },
  { name: "GET /health (LAN)", scope: null, ok: 200, run: (token) => call("/health", { token }) },
];

// every non-empty subset of the scopes, as its own token
const scopeSets = [1, 2, 3, 4, 5, 6, 7].map((bits) => TOKEN_SCOPES.filter((_, i) => bits & (1 << i)));
const tokenFor = (scopes: readonly TokenScope[]) => `t-${scopes.join("-")}`;
const grants = (scopes: readonly TokenScope[], needed: TokenScope | null) =>
  needed === null || scopes.includes(needed) || (needed === "read" && scopes.includes("admin"));

describe("scope × endpoint", () => {
  beforeAll(() => {
    configure([{ name: "sender", scopes: ["send"] }, ...scopeSets.map((s) => ({ name: tokenFor(s), scopes: s }))]);
  });
  afterEach(async () => {
    await relay.app.admin.setPaused(true);
  });

  const rows = scopeSets.flatMap((scopes) => endpoints.map((endpoint) => ({ scopes, endpoint })));
  it.each(rows.map((r) => [`[${r.scopes.join(", ")}] → ${r.endpoint.name}`, r] as const))("%s", async (_, row) => {
    const answer = await row.endpoint.run(tokenFor(row.scopes));
    if (grants(row.scopes, row.endpoint.scope)) {
      expect(answer.status).toBe(row.endpoint.ok);
    } else {
      expect(answer).toEqual({
        status: 403,
        body: { code: 403, message: `This token lacks the "${row.endpoint.scope}" scope`, data: null },
      });
    }
  });

  it.each(endpoints.map((e) => [e.name, e] as const))("%s without a token from the LAN → 401", async (_, endpoint) => {
    const answer = await endpoint.run();
    expect(answer.status).toBe(401);
    expect(answer.body.message).toBe("A bearer token is required");
  });

  it("lets loopback reach /health and /metrics without a token, and nothing else", async () => {
    expect((await call("/health", { from: LOOPBACK })).status).toBe(200);
    expect((await call("/metrics?format=json", { from: LOOPBACK })).status).toBe(200);
    expect((await send(undefined, LOOPBACK)).status).toBe(401);
    expect((await call("/api/email", { from: LOOPBACK })).status).toBe(401);
    expect((await call("/admin/retry-failed", { method: "POST", from: LOOPBACK })).status).toBe(401);
  });

  it("answers malformed Authorization headers with 401 naming the problem", async () => {
    const withHeader = (authorization: string) => call("/api/email", { headers: { authorization } });
    const malformed = await withHeader(`Bearer ${secret(tokenFor(["read"]))} extra`);
    expect(malformed).toMatchObject({ status: 401, body: { code: 401, message: "malformed Authorization header" } });
    expect(JSON.stringify(malformed.body)).not.toContain(secret(tokenFor(["read"])));
    expect(await withHeader("Bearer")).toMatchObject({
      status: 401,
      body: { message: "malformed Authorization header" },
    });
    const bare = await withHeader(secret(tokenFor(["read"])));
    expect(bare).toMatchObject({ status: 401, body: { message: "Authorization scheme must be Bearer", data: null } });
    expect((await withHeader("Basic dXNlcjpwYXNz")).body.message).toBe("Authorization scheme must be Bearer");
    expect((await withHeader(`Bearer ${secret("nobody")}`)).body.message).toBe("Invalid token");
  });

  it("still applies admin.allow to an admin token", async () => {
    configure([{ name: "ops", scopes: ["admin"] }], ["admin:", `  allow: ["127.0.0.0/8"]`]);
    const answer = await call("/admin/retry-failed", { method: "POST", token: "ops" });
    expect(answer.body).toEqual({
      code: 403,
      message: "Client address is not allowed to use the admin API",
      data: null,
    });
    expect((await call("/metrics", { token: "ops" })).status).toBe(403);
    expect((await call("/admin/retry-failed", { method: "POST", token: "ops", from: LOOPBACK })).status).toBe(200);
  });
});

describe("which mails a token sees", () => {
  beforeAll(() => {
    configure([
      { name: "crm", scopes: ["send", "read"] },
      { name: "billing", scopes: ["send", "read"] },
      { name: "sender", scopes: ["send"] },
      { name: "ops", scopes: ["admin"] },
    ]);
  });

  it("answers another client's mail exactly like a mail that does not exist; admin sees it", async () => {
    const id = await mailOf("crm");
    expect((await call(`/api/email/${id}`, { token: "crm" })).body.data.id).toBe(id);
    expect((await call(`/api/email/${id}`, { token: "ops" })).body.data.id).toBe(id);
    const foreign = await call(`/api/email/${id}`, { token: "billing" });
    const missing = await call(`/api/email/${ulid()}`, { token: "billing" });
    expect(foreign).toEqual({ status: 404, body: noSuchMail });
    expect(missing).toEqual(foreign);
    const fromSender = await mailOf("sender");
    expect((await call(`/api/email/${fromSender}`, { token: "crm" })).status).toBe(404);
    expect((await call(`/api/email/${fromSender}`, { token: "sender" })).status).toBe(403);
    expect((await call(`/api/email/${fromSender}`, { token: "ops" })).status).toBe(200);
  });

  it("fills a page with own mails however many of others' are newer", async () => {
    const own = [await mailOf("crm"), await mailOf("crm"), await mailOf("crm")];
    for (let i = 0; i < 12; i += 1) await mailOf("billing");
    const page = await call("/api/email?limit=3", { token: "crm" });
    expect(page.body.data.items.map((m: { id: string }) => m.id)).toEqual([...own].reverse());
    const all = await call("/api/email?limit=1000", { token: "crm" });
    const clients = new Set(all.body.data.items.map((m: { id: string }) => relay.spool.index.get(m.id)!.client));
    expect(clients).toEqual(new Set(["token:crm"]));
    const admin = await call("/api/email?limit=15", { token: "ops" });
    expect(admin.body.data.items).toHaveLength(15);
    expect(new Set(admin.body.data.items.map((m: { id: string }) => relay.spool.index.get(m.id)!.client))).toEqual(
      new Set(["token:crm", "token:billing"]),
    );
  });

  it("holds for generated token sets and mails, swapped in by reload", async () => {
    let run = 0;
    const tokenSets = fc.uniqueArray(
      fc.subarray([...TOKEN_SCOPES], { minLength: 1 }).map((scopes) => scopes as TokenScope[]),
      { minLength: 1, maxLength: 4, selector: (s) => s.join() },
    );
    await fc.assert(
      fc.asyncProperty(
        tokenSets.chain((sets) =>
          fc.tuple(
            fc.constant(sets),
            fc.array(fc.nat(sets.length - 1), { maxLength: 8 }),
            fc.integer({ min: 1, max: 5 }),
          ),
        ),
        async ([sets, senders, limit]) => {
          run += 1;
          const tokens = sets.map((scopes, i) => ({ name: `run${run}-${i}`, scopes }));
          configure(tokens);
          const mails: { id: string; owner: string }[] = [];
          for (const i of senders) {
            const token = tokens[i]!;
            const answer = await send(token.name);
            expect(answer.status).toBe(token.scopes.includes("send") ? 200 : 403);
            if (answer.status === 200) mails.push({ id: answer.body.data.id, owner: token.name });
          }
          for (const token of tokens) {
            const admin = token.scopes.includes("admin");
            const reads = admin || token.scopes.includes("read");
            const own = mails.filter((m) => m.owner === token.name).map((m) => m.id);
            const listed = await call(`/api/email?limit=${limit}`, { token: token.name });
            if (!reads) {
              expect(listed.status).toBe(403);
            } else if (!admin) {
              expect(listed.body.data.items.map((m: { id: string }) => m.id)).toEqual(
                [...own].reverse().slice(0, limit),
              );
            } else {
              const everything = await call("/api/email?limit=1000", { token: token.name });
              const ids = new Set(everything.body.data.items.map((m: { id: string }) => m.id));
              for (const mail of mails) expect(ids.has(mail.id)).toBe(true);
            }
            for (const mail of mails) {
              const status = await call(`/api/email/${mail.id}`, { token: token.name });
              if (!reads) expect(status.status).toBe(403);
              else if (admin || mail.owner === token.name) expect(status.body.data.id).toBe(mail.id);
              else expect(status).toEqual({ status: 404, body: noSuchMail });
            }
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe("without any token", () => {
  beforeAll(() => {
    configure([], ["admin:", `  allow: ["127.0.0.0/8"]`]);
  });

  it("lets server.allow and admin.allow decide, as before scopes", async () => {
    const fromLan = await mailOf(undefined);
    expect((await call(`/api/email/${fromLan}`)).body.data.id).toBe(fromLan);
    expect((await call(`/api/email/${fromLan}`, { from: LOOPBACK })).body.data.id).toBe(fromLan);
    expect((await call("/api/email?limit=1")).body.data.items).toHaveLength(1);
    expect((await call("/admin/retry-failed", { method: "POST", from: LOOPBACK })).status).toBe(200);
    expect((await call("/admin/retry-failed", { method: "POST" })).status).toBe(403);
    expect((await call("/metrics?format=json")).status).toBe(403);
    expect((await call("/metrics?format=json", { from: LOOPBACK })).status).toBe(200);
    expect((await call("/health", { from: "192.168.1.1" })).status).toBe(403);
  });
});

describe("archived mails", () => {
  it("are seen by their own token and admin only, a foreign one answering like no mail", async () => {
    await relay.app.admin.setPaused(false);
    configure([
      { name: "crm", scopes: ["send", "read"] },
      { name: "billing", scopes: ["send", "read"] },
      { name: "ops", scopes: ["admin"] },
    ]);
    const own = await mailOf("crm");
    const filler: string[] = [];
    for (let i = 0; i < 12; i += 1) filler.push(await mailOf("billing"));
    await waitFor(() => relay.spool.index.undelivered().length === 0, 10_000, "every mail delivered");
    const log = createLogger("silent");
    const day = 86_400_000;
    const result = await compactSpool(relay.spool, { retentionDays: 30, log, now: () => Date.now() + 2 * day });
    expect(result.archivedSegments).toBeGreaterThan(0);
    expect(relay.spool.index.get(own)?.location.archived).toBe(true);
    expect((await call(`/api/email/${own}`, { token: "crm" })).body.data).toMatchObject({ id: own, state: "sent" });
    expect((await call(`/api/email/${own}`, { token: "ops" })).body.data.id).toBe(own);
    expect(await call(`/api/email/${own}`, { token: "billing" })).toEqual({ status: 404, body: noSuchMail });
  });
});
