// Token scopes on the real binary: a send-only, two read+send and an admin token; own mails
// only for `read` (another client's mail is 404 like no mail), admin endpoints refused to
// non-admin tokens, malformed Authorization headers, check-config, and SIGHUP swapping scopes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const secrets = {
  sender: "sender-secret-0123456789",
  crm: "crm-secret-0123456789",
  billing: "billing-secret-0123456789",
  ops: "ops-secret-0123456789",
};
type Name = keyof typeof secrets;
const auth = (name: Name) => ({ authorization: `Bearer ${secrets[name]}` });
const form = new URLSearchParams({ title: "t", content: "<p>c</p>", receiver: "a@example.com" }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };
const noSuchMail = { code: 404, message: "No such mail", data: null };
const lacks = (scope: string) => ({ code: 403, message: `This token lacks the "${scope}" scope`, data: null });

const tokensYaml = (entries: Partial<Record<Name, string>>) =>
  [
    "server:",
    "  tokens:",
    ...Object.entries(entries).map(
      ([name, scopes]) => `    - { name: ${name}, token: "\${${name.toUpperCase()}_TOKEN}"${scopes} }`,
    ),
  ].join("\n");
const env = Object.fromEntries(Object.entries(secrets).map(([name, value]) => [`${name.toUpperCase()}_TOKEN`, value]));

async function sendAs(relay: RelayProcess, name: Name): Promise<string> {
  const answer = await post(relay.url, form, { ...formHeaders, ...auth(name) });
  expect(answer.status).toBe(200);
  return answer.body.data.id;
}

async function adminPost(relay: RelayProcess, path: string, name?: Name) {
  const response = await fetch(`${relay.url}${path}`, { method: "POST", headers: name ? auth(name) : {} });
  return { status: response.status, body: await response.json() };
}

describe("token scopes on the binary", () => {
  let relay: RelayProcess;
  let dir: string;
  beforeAll(async () => {
    dir = tmpDir();
    // crm gets the default scopes [send, read]
    writeConfig(
      dir,
      tokensYaml({ sender: ", scopes: [send]", crm: "", billing: ", scopes: [send, read]", ops: ", scopes: [admin]" }),
    );
    relay = await startRelay({ cwd: dir, env });
  });
  afterAll(async () => {
    expect(await relay.stop()).toBe(0);
    writeConfig(dir, "");
    const fsck = runCli(["fsck", "-c", "app.yaml"], dir);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
  });

  it("shows each token's scopes in check-config, tokens masked", () => {
    const result = runCli(["check-config", "-c", "app.yaml"], dir, env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).server.tokens).toEqual([
      { name: "sender", token: "***", scopes: ["send"] },
      { name: "crm", token: "***", scopes: ["send", "read"] },
      { name: "billing", token: "***", scopes: ["send", "read"] },
      { name: "ops", token: "***", scopes: ["admin"] },
    ]);
  });

  it("answers a mail sent with one token 404 for another, like a mail that does not exist; admin sees it", async () => {
    const crmMail = await sendAs(relay, "crm");
    const senderMail = await sendAs(relay, "sender");
    expect((await get(relay.url, `/api/email/${crmMail}`, auth("crm"))).body.data.id).toBe(crmMail);
    const foreign = await get(relay.url, `/api/email/${crmMail}`, auth("billing"));
    const missing = await get(relay.url, "/api/email/01J00000000000000000000000", auth("billing"));
    expect({ status: foreign.status, body: foreign.body }).toEqual({ status: 404, body: noSuchMail });
    expect(missing.body).toEqual(foreign.body);
    expect((await get(relay.url, `/api/email/${senderMail}`, auth("crm"))).status).toBe(404);
    const senderReads = await get(relay.url, `/api/email/${senderMail}`, auth("sender"));
    expect({ status: senderReads.status, body: senderReads.body }).toEqual({ status: 403, body: lacks("read") });
    for (const id of [crmMail, senderMail])
      expect((await get(relay.url, `/api/email/${id}`, auth("ops"))).body.data.id).toBe(id);

    const ids = async (name: Name) =>
      ((await get(relay.url, "/api/email?limit=1000", auth(name))).body.data.items as { id: string }[]).map(
        (m) => m.id,
      );
    expect(await ids("crm")).toEqual([crmMail]);
    expect(await ids("billing")).toEqual([]);
    expect(await ids("ops")).toEqual(expect.arrayContaining([crmMail, senderMail]));
  });

  it("refuses admin endpoints to non-admin tokens with 403 naming the scope", async () => {
    const id = await sendAs(relay, "crm");
    for (const name of ["sender", "crm", "billing"] as const)
      for (const path of ["/admin/pause", "/admin/resume", "/admin/retry-failed", `/admin/cancel/${id}`])
        expect(await adminPost(relay, path, name)).toEqual({ status: 403, body: lacks("admin") });
    expect((await adminPost(relay, "/admin/pause", "ops")).body.data).toEqual({ paused: true });
    expect((await adminPost(relay, "/admin/resume", "ops")).body.data).toEqual({ paused: false });
    expect((await adminPost(relay, "/admin/retry-failed", "ops")).status).toBe(200);
    const sent = await post(relay.url, form, { ...formHeaders, ...auth("ops") });
    expect({ status: sent.status, body: sent.body }).toEqual({ status: 403, body: lacks("send") });
  });

  it("keeps /health and /metrics open to loopback without a token", async () => {
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    expect((await fetch(`${relay.url}/metrics`)).status).toBe(200);
  });

  it("answers malformed Authorization headers with 401 saying so", async () => {
    const withHeader = async (authorization: string) => {
      const answer = await post(relay.url, form, { ...formHeaders, authorization });
      return { status: answer.status, message: answer.body.message, auth: answer.headers.get("www-authenticate") };
    };
    const bearerRealm = 'Bearer realm="mailspool"';
    expect(await withHeader("Bearer a b")).toEqual({
      status: 401,
      message: "malformed Authorization header",
      auth: bearerRealm,
    });
    expect(await withHeader(`Bearer ${secrets.crm} ${secrets.crm}`)).toMatchObject({
      status: 401,
      message: "malformed Authorization header",
    });
    expect(await withHeader("Bearer")).toMatchObject({ status: 401, message: "malformed Authorization header" });
    expect(await withHeader(secrets.crm)).toMatchObject({
      status: 401,
      message: "Authorization scheme must be Bearer",
    });
    expect(await withHeader("Basic Y3JtOnNlY3JldA==")).toMatchObject({
      status: 401,
      message: "Authorization scheme must be Bearer",
    });
    expect(relay.output()).not.toMatch(/secret-0123456789/);
  });

  it("takes new scopes on SIGHUP and refuses an unknown scope, keeping the old ones", async () => {
    const crmMail = await sendAs(relay, "crm");
    writeConfig(dir, tokensYaml({ crm: ", scopes: [send]", billing: ", scopes: [send, read, admin]" }));
    relay.child.kill("SIGHUP");
    await waitFor(
      async () => (await get(relay.url, `/api/email/${crmMail}`, auth("crm"))).status === 403,
      5_000,
      "crm losing read",
    );
    await waitFor(
      () => relay.output().includes('"tokens":["crm: send","billing: send, read, admin"]'),
      5_000,
      "the reload line naming tokens and scopes",
    );
    expect((await get(relay.url, `/api/email/${crmMail}`, auth("billing"))).body.data.id).toBe(crmMail);
    expect((await adminPost(relay, "/admin/retry-failed", "billing")).status).toBe(200);
    expect((await get(relay.url, "/api/email", auth("ops"))).status).toBe(401);
    expect((await post(relay.url, form, { ...formHeaders, ...auth("crm") })).status).toBe(200);

    writeConfig(dir, tokensYaml({ crm: ", scopes: [send, root]" }));
    relay.child.kill("SIGHUP");
    await waitFor(() => relay.output().includes("server.tokens[0].scopes[1]"), 5_000, "the refusal");
    expect((await get(relay.url, `/api/email/${crmMail}`, auth("billing"))).status).toBe(200);
    expect((await adminPost(relay, "/admin/retry-failed", "crm")).status).toBe(403);
  });
});
