// Bearer tokens (401) and the CIDR allowlist (403) on the real binary.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, post } from "../helpers/http.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const form = () => new URLSearchParams({ title: "t", content: "c", receiver: "a@example.com" }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

describe("tokens", () => {
  let relay: RelayProcess;
  let dir: string;
  beforeAll(async () => {
    dir = tmpDir();
    writeConfig(dir, ["server:", "  tokens:", '    - { name: crm, token: "${CRM_TOKEN}" }'].join("\n"));
    relay = await startRelay({ cwd: dir, env: { CRM_TOKEN: "s3cret-token-0123456789" } });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it("refuses a send without a token with 401", async () => {
    const answer = await post(relay.url, form(), formHeaders);
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe(401);
    expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("refuses a wrong token with 401", async () => {
    expect(
      (await post(relay.url, form(), { ...formHeaders, authorization: "Bearer s3cret-token-0123456780" })).status,
    ).toBe(401);
  });

  it("accepts the right token and records the client by token name", async () => {
    const answer = await post(relay.url, form(), { ...formHeaders, authorization: "Bearer s3cret-token-0123456789" });
    expect(answer.status).toBe(200);
    expect((await get(relay.url, `/api/email/${answer.body.data.id}`)).status).toBe(401);
    const status = await get(relay.url, `/api/email/${answer.body.data.id}`, {
      authorization: "Bearer s3cret-token-0123456789",
    });
    expect(status.body.data.state).toMatch(/queued|sending|sent/);
    expect(fs.readFileSync(path.join(dir, "data/spool/000001.jsonl"), "utf8")).toContain(
      `"id":"${answer.body.data.id}","ts"`,
    );
    expect(fs.readFileSync(path.join(dir, "data/spool/000001.jsonl"), "utf8")).toContain('"client":"token:crm"');
  });

  it("lets loopback reach /health without a token", async () => {
    expect((await get(relay.url, "/health")).status).toBe(200);
  });

  it("never logs the token", () => {
    expect(relay.output()).not.toContain("s3cret-token-0123456789");
  });
});

describe("allowlist", () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    const dir = tmpDir();
    writeConfig(dir, ["server:", '  allow: ["10.0.0.0/8"]'].join("\n"));
    relay = await startRelay({ cwd: dir });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it("refuses a client outside server.allow with 403", async () => {
    const answer = await post(relay.url, form(), formHeaders);
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 403, data: null });
  });
});
