// GET /api/email?recipient= in memory (Hono app.request() over an in-process relay's real
// intake and spool): any spelling of an address finds the mails sent to it, a token with
// `read` sees only its own among them with the filter applied before the limit, and a bad
// value is a 400 naming `recipient` (generated values included).
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAddress } from "../../src/address.js";
import { loadConfig } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";

const LAN = "10.1.2.3";
const secret = (name: string) => `${name}-secret-0123456789`;

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  relay = await startInProcess("");
  await relay.app.admin.setPaused(true);
  const tokens = ["crm", "billing"].map((n) => `    - { name: ${n}, token: ${secret(n)}, scopes: [send, read] }`);
  fs.writeFileSync(
    path.join(relay.dir, "app.yaml"),
    ["server:", `  allow: ["127.0.0.0/8", "10.0.0.0/8"]`, "  tokens:", ...tokens].join("\n"),
  );
  relay.reload(loadConfig({ cwd: relay.dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } }));
  app = createApp(relay.app);
});
afterAll(async () => {
  await relay.stop();
});

async function call(target: string, token: string, init: RequestInit = {}) {
  const response = await app.request(
    target,
    { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${secret(token)}` } },
    { remoteAddress: LAN },
  );
  return { status: response.status, body: (await response.json()) as { code: number; message: string; data: any } };
}

async function send(token: string, receiver: string, cc = ""): Promise<string> {
  const fields = { title: `to ${receiver}`, content: "<p>c</p>", receiver, ...(cc ? { cc } : {}) };
  const body = new URLSearchParams(fields).toString();
  const answer = await call("/api/email/send", token, {
    method: "POST",
    body,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  expect(answer.status).toBe(200);
  return answer.body.data.id;
}

const listed = async (query: string, token: string) =>
  (await call(`/api/email?${query}`, token)).body.data.items.map((m: { id: string }) => m.id);

describe("GET /api/email?recipient=", () => {
  it("finds the mails to any spelling of the address, before the limit and the token's scope", async () => {
    const crm = [await send("crm", "Anna@Bücher.DE"), await send("crm", "x@example.com", "anna@bücher.de")];
    const crmToAnna = await send("crm", "anna@xn--bcher-kva.de");
    for (let i = 0; i < 5; i += 1) await send("billing", "anna@BÜCHER.de");
    for (let i = 0; i < 5; i += 1) await send("crm", "someone@else.test");
    const spellings = ["anna@bücher.de", "anna@BÜCHER.DE", '"anna"@xn--bcher-kva.de', "anna@XN--BCHER-KVA.DE"];
    for (const spelling of spellings) {
      const q = `recipient=${encodeURIComponent(spelling)}`;
      expect(await listed(`${q}&limit=2`, "crm"), spelling).toEqual([crmToAnna, crm[1]]);
      expect(await listed(`${q}&limit=50`, "billing"), spelling).toHaveLength(5);
    }
    // the local part keeps its case (the canonical form): Anna is not anna
    expect(await listed("recipient=Anna%40b%C3%BCcher.de", "crm")).toEqual([crm[0]]);
    expect(await listed("recipient=nobody%40b%C3%BCcher.de", "crm")).toEqual([]);
  });

  it("answers 400 naming recipient for a value that is not an address (generated)", async () => {
    const bad = ["", "anna", "@bücher.de", "anna@", "a b@example.com", "anna@bücher", "anna@-x.de"];
    const generated = fc.sample(
      fc.string({ maxLength: 30 }).filter((s) => !parseAddress(s).ok),
      20,
    );
    for (const value of [...bad, ...generated]) {
      const answer = await call(`/api/email?recipient=${encodeURIComponent(value)}`, "crm");
      expect(answer.status, JSON.stringify(value)).toBe(400);
      expect(answer.body.data.errors, JSON.stringify(value)).toEqual([
        { field: "recipient", message: expect.stringMatching(/^recipient must be a mail address: /) },
      ]);
    }
  });
});

describe("GET /api/email pages", () => {
  it("walks every own mail once, newest first, through next/before; a bad cursor is a 400 naming before", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 7; i += 1) mine.push(await send("crm", `page${i}@example.com`));
    const seen: string[] = [];
    const acceptedAt: string[] = [];
    let before = "";
    const one = await call(`/api/email?recipient=page0%40example.com&limit=3`, "crm");
    expect(one.body.data).toMatchObject({ next: null, items: [{ id: mine[0] }] });
    for (let page = 0; page < 20; page += 1) {
      const answer = await call(`/api/email?since=1h&limit=3${before}`, "crm");
      const ids = answer.body.data.items.map((m: { id: string }) => m.id);
      seen.push(...ids);
      acceptedAt.push(...answer.body.data.items.map((m: { acceptedAt: string }) => m.acceptedAt));
      if (answer.body.data.next === null) break;
      expect(answer.body.data.next).toBe(ids.at(-1));
      before = `&before=${answer.body.data.next}`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, 7)).toEqual([...mine].reverse());
    // newest first by acceptance (ids of one millisecond are not ordered among themselves)
    expect([...acceptedAt].sort().reverse()).toEqual(acceptedAt);
    const bad = await call("/api/email?before=not-an-id", "crm");
    expect(bad.status).toBe(400);
    expect(bad.body.data.errors[0].field).toBe("before");
  });
});
