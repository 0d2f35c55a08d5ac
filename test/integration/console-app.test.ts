// The web console in memory (Hono app.request() over an in-process relay's real spool and
// delivery): the access rules (loopback without tokens, the login form's signed session,
// scopes, admin.allow), CSRF on every state-changing request, security headers, and hostile
// mail content that comes back escaped (subject, sender name, file name)
// and whose HTML is served only under the preview's CSP.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { sendForm } from "../helpers/http.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";

const LOOPBACK = "127.0.0.1";
const LAN = "10.1.2.3";
const origin = "http://localhost";
const readToken = "reader-secret-0123456789";
const adminToken = "admin-secret-0123456789";
const hostile = {
  title: `<script>alert("subject")</script>`,
  sender_name: `<img src=x onerror=alert("sender")>`,
  receiver: "victim@example.com",
  content: `<p>hello</p><script>alert("body")</script><img src="https://tracker.example/p.gif">`,
};
const hostileFile = "<img src=x onerror=alert(3)>.txt";

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
let mailId: string;

type Init = { method?: string; body?: BodyInit; headers?: Record<string, string>; from?: string; cookie?: string };
async function call(target: string, init: Init = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.cookie) headers.cookie = init.cookie;
  return app.request(
    target,
    { method: init.method ?? "GET", body: init.body, headers },
    { remoteAddress: init.from ?? LOOPBACK },
  );
}

const cookieOf = (response: Response) => response.headers.get("set-cookie")?.split(";")[0] ?? "";
const csrfOf = (html: string) => /name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? "";
const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded", origin },
});

/** A console session from loopback without tokens: its cookie and CSRF token. */
async function openSession() {
  const page = await call("/console");
  return { cookie: cookieOf(page), csrf: csrfOf(await page.text()) };
}

function useTokens(tokens: boolean) {
  const lines = tokens
    ? [
        "server:",
        `  allow: ["127.0.0.0/8", "10.0.0.0/8"]`,
        "  tokens:",
        `    - { name: reader, token: ${readToken}, scopes: [read] }`,
        `    - { name: boss, token: ${adminToken}, scopes: [send, admin] }`,
      ]
    : ["server:", `  allow: ["127.0.0.0/8", "10.0.0.0/8"]`];
  fs.writeFileSync(path.join(relay.dir, "app.yaml"), lines.join("\n"));
  relay.reload(loadConfig({ cwd: relay.dir, env: { MAILSPOOL_LISTEN: "127.0.0.1:0" } }));
}

beforeAll(async () => {
  relay = await startInProcess("");
  await relay.app.admin.setPaused(true);
  useTokens(false);
  app = createApp(relay.app);
  const file = { filename: hostileFile, type: "text/html", data: new TextEncoder().encode("<script>x</script>") };
  const sent = await call("/api/email/send", { method: "POST", body: sendForm(hostile, [file]) });
  expect(sent.status, await sent.clone().text()).toBe(200);
  mailId = ((await sent.json()) as { data: { id: string } }).data.id;
});
afterAll(async () => {
  await relay.stop();
});

describe("console without tokens, from loopback", () => {
  it("opens with a signed HttpOnly SameSite=Strict session and a CSP that allows no inline script", async () => {
    const response = await call("/console");
    expect(response.status).toBe(200);
    const cookie = response.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).toMatch(/Path=\/console/);
    const csp = response.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await response.text();
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script>|<style>| style="| on[a-z]+="/);
  });

  it("serves htmx and its script from memory", async () => {
    const htmx = await call("/console/assets/htmx.min.js");
    expect(htmx.status).toBe(200);
    expect(htmx.headers.get("content-type")).toMatch(/javascript/);
    expect(await htmx.text()).toContain("htmx");
    expect((await call("/console/assets/console.js")).status).toBe(200);
    expect((await call("/console/assets/nope.js")).status).toBe(404);
  });

  it("escapes the hostile subject, sender name, and file name everywhere", async () => {
    for (const target of [
      `/console/mails/${mailId}`,
      "/console/mails",
      `/console/mails?subject=${encodeURIComponent("<script>")}`,
    ]) {
      const html = await (await call(target)).text();
      expect(html).toContain("&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;");
      expect(html).not.toContain("<script>alert");
      expect(html).not.toMatch(/<img src=x/);
    }
    const page = await (await call(`/console/mails/${mailId}`)).text();
    expect(page).toContain("&lt;img src=x onerror=alert(&quot;sender&quot;)&gt;");
    expect(page).toContain("&lt;img src=x onerror=alert(3)&gt;.txt");
    expect(page).toMatch(/<iframe[^>]* sandbox=""/);
    expect(page).not.toContain("tracker.example");
  });

  it("serves the HTML body only under the preview's CSP, and downloads as attachments", async () => {
    const preview = await call(`/console/mails/${mailId}/preview`);
    expect(preview.headers.get("content-security-policy")).toBe(
      "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'",
    );
    expect(await preview.text()).toBe(hostile.content);
    const file = await call(`/console/mails/${mailId}/attachments/0`);
    expect(file.headers.get("content-type")).toBe("application/octet-stream");
    expect(file.headers.get("content-disposition")).toBe(
      `attachment; filename="_img src_x onerror_alert_3__.txt"; filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%283%29%3E.txt`,
    );
    expect(await file.text()).toBe("<script>x</script>");
    const eml = await call(`/console/mails/${mailId}/message.eml`);
    expect(eml.headers.get("content-disposition")).toContain(`${mailId}.eml`);
    expect(await eml.text()).toContain("Subject:");
  });

  it("refuses a state change without the session's CSRF token or from another origin", async () => {
    const { cookie, csrf } = await openSession();
    const noToken = await call("/console/pause", { method: "POST", cookie, ...form({}) });
    expect(noToken.status).toBe(403);
    const wrongToken = await call("/console/pause", { method: "POST", cookie, ...form({ _csrf: "x".repeat(43) }) });
    expect(wrongToken.status).toBe(403);
    const otherSite = await call("/console/pause", {
      method: "POST",
      cookie,
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
    });
    expect(otherSite.status).toBe(403);
    const otherSession = await openSession();
    const foreign = await call("/console/pause", { method: "POST", cookie, ...form({ _csrf: otherSession.csrf }) });
    expect(foreign.status).toBe(403);
    expect(relay.app.admin.delivery.paused).toBe(true);
    await relay.app.admin.setPaused(false);
    const ok = await call("/console/pause", { method: "POST", cookie, ...form({ _csrf: csrf }) });
    expect(ok.status).toBe(303);
    expect(relay.app.admin.delivery.paused).toBe(true);
    const viaHeader = await call("/console/resume", {
      method: "POST",
      cookie,
      headers: { origin, "x-csrf-token": csrf, "hx-request": "true" },
    });
    expect(viaHeader.status).toBe(200);
    expect(await viaHeader.text()).toContain("Pause delivery");
    expect(relay.app.admin.delivery.paused).toBe(false);
    await relay.app.admin.setPaused(true);
  });

  it("answers a client outside admin.allow with 403", async () => {
    const response = await call("/console", { from: LAN });
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    expect((await call("/console/login", { from: LAN })).status).toBe(403);
  });
});

describe("console with tokens", () => {
  beforeAll(() => useTokens(true));
  afterAll(() => useTokens(false));

  async function login(token: string) {
    const response = await call("/console/login", { method: "POST", ...form({ token }) });
    return { status: response.status, cookie: cookieOf(response), location: response.headers.get("location") };
  }

  it("sends a visitor without a session to the login form, and refuses unknown tokens", async () => {
    const response = await call("/console");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/login");
    expect((await call("/console/login")).status).toBe(200);
    const wrong = await login("not-a-token-at-all");
    expect(wrong.status).toBe(401);
    expect(wrong.cookie).toBe("");
    const noOrigin = await call("/console/login", {
      method: "POST",
      body: new URLSearchParams({ token: adminToken }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
    });
    expect(noOrigin.status).toBe(403);
  });

  it("lets a read token look but not act, and an admin token act", async () => {
    const reader = await login(readToken);
    expect(reader.status).toBe(303);
    expect(reader.location).toBe("/console");
    const page = await call("/console", { cookie: reader.cookie });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).not.toContain("Pause delivery");
    // the reader sees only its own mails: the mail sent without a token is not there
    expect((await call(`/console/mails/${mailId}`, { cookie: reader.cookie })).status).toBe(404);
    const refused = await call("/console/resume", {
      method: "POST",
      cookie: reader.cookie,
      ...form({ _csrf: csrfOf(html) }),
    });
    expect(refused.status).toBe(403);

    const boss = await login(adminToken);
    const bossPage = await (await call("/console", { cookie: boss.cookie })).text();
    expect(bossPage).toContain("Resume delivery");
    expect((await call(`/console/mails/${mailId}`, { cookie: boss.cookie })).status).toBe(200);
    const resumed = await call("/console/resume", {
      method: "POST",
      cookie: boss.cookie,
      ...form({ _csrf: csrfOf(bossPage) }),
    });
    expect(resumed.status).toBe(303);
    expect(relay.app.admin.delivery.paused).toBe(false);
    await relay.app.admin.setPaused(true);
  });

  it("refuses a tampered session cookie and a session cookie outside the console", async () => {
    const boss = await login(adminToken);
    const [name, value] = boss.cookie.split("=") as [string, string];
    const [payload] = value.split(".");
    const forged = JSON.parse(Buffer.from(payload!, "base64url").toString());
    forged.expires += 1000;
    const tampered = `${name}=${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${value.split(".")[1]}`;
    expect((await call("/console", { cookie: tampered })).status).toBe(303);
    expect((await call("/api/email", { cookie: boss.cookie })).status).toBe(401);
    const out = await call("/console/logout", {
      method: "POST",
      cookie: boss.cookie,
      ...form({ _csrf: csrfOf(await (await call("/console", { cookie: boss.cookie })).text()) }),
    });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
  });
});
