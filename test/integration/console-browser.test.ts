// The web console in a real browser: Debian's Chromium driven by playwright-core against the
// built binary (dist/mailspool) delivering to a real SMTP sink. Logs in with a token, filters
// the mail list, opens a mail, previews it, downloads its .eml, replays a failed mail with
// the button and sees the new attempt, confirms a bulk replay, and checks CSRF. A mail whose
// subject, sender name, file name and HTML try to run script raises no dialog and makes no
// request. Every page is checked at 375 px wide and photographed (see `shots`).
// Without /usr/bin/chromium the file skips (saying so), except under CI=true, where it fails.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { sendForm } from "../helpers/http.js";
import { upstreamYaml } from "../helpers/relay-in-process.js";
import { repoRoot, startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const chromiumPath = "/usr/bin/chromium";
const haveChromium = fs.existsSync(chromiumPath);
if (!haveChromium && process.env.CI === "true")
  throw new Error(`${chromiumPath} is missing: CI must run the console's browser test (apt-get install chromium)`);
if (!haveChromium)
  console.log(`console-browser.test.ts: skipped, ${chromiumPath} is missing (apt-get install chromium runs it)`);

const adminToken = "console-admin-token-0123456789";
const readToken = "console-read-token-0123456789";
// every run photographs each page into .vitest-tmp/; UPDATE_SCREENSHOTS=1 writes them over the README's in docs/console/
const shots = path.join(repoRoot, process.env.UPDATE_SCREENSHOTS === "1" ? "docs/console" : ".vitest-tmp/console");
const beacon = "/beacon-from-mail";

/** Polls until the locator's text contains `text` (playwright-core has no web-first assertions). */
const seeText = (locator: Locator, text: string) =>
  waitFor(async () => (await locator.textContent())?.includes(text), 10_000, `"${text}" in ${locator.toString()}`);
const seeCount = (locator: Locator, count: number) =>
  waitFor(async () => (await locator.count()) === count, 10_000, `${count} of ${locator.toString()}`);

describe.skipIf(!haveChromium)("web console in Chromium", () => {
  let sink: SmtpSink;
  let relay: RelayProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const requests: string[] = [];
  const ids: Record<string, string> = {};

  const api = async (target: string, init: RequestInit = {}) => {
    const response = await fetch(`${relay.url}${target}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, ...(init.headers as Record<string, string>) },
    });
    return (await response.json()) as { code: number; data: any };
  };
  const send = async (fields: Record<string, string>, files: Parameters<typeof sendForm>[1] = []) => {
    const answer = await api("/api/email/send", { method: "POST", body: sendForm(fields, files) });
    expect(answer.code).toBe(200);
    return answer.data.id as string;
  };
  const stateOf = async (id: string) => (await api(`/api/email/${id}`)).data.state as string;
  const waitForState = (id: string, state: string) =>
    waitFor(async () => (await stateOf(id)) === state, 15_000, `mail ${id} ${state}`);

  /** The page fits a 375 px wide screen (nothing wider than the viewport), then a screenshot at desktop width. */
  async function checkAndShoot(name: string) {
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow, `${name} at 375 px`).toBeLessThanOrEqual(375);
    await page.setViewportSize({ width: 1100, height: 900 });
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    sink = await startSmtpSink({
      onRcpt: (address) =>
        address.startsWith("bounce@") ? { code: 550, message: "5.1.1 mailbox unavailable" } : undefined,
    });
    const dir = tmpDir();
    writeConfig(
      dir,
      [
        "server:",
        "  tokens:",
        `    - { name: boss, token: ${adminToken}, scopes: [send, admin] }`,
        `    - { name: viewer, token: ${readToken}, scopes: [read] }`,
        "delivery:",
        "  from: relay@example.org",
        "  retry: { attempts: 2, baseSeconds: 0.05, maxSeconds: 0.2 }",
        "  upstreams:",
        upstreamYaml([{ name: "sink", port: sink.port, dailyLimit: 1000, ratePerSecond: 5, burst: 10 }]),
      ].join("\n"),
    );
    relay = await startRelay({ cwd: dir });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // a load the CSP blocks is reported as a request that failed: only those that got an answer count
    page.on("requestfinished", (request) => requests.push(request.url()));

    for (let i = 1; i <= 3; i++)
      ids[`weekly${i}`] = await send({
        title: `Weekly report ${i}`,
        content: `<h1>Report ${i}</h1><p>All is well.</p>`,
        receiver: `team${i}@example.com`,
        sender_name: "Reports",
      });
    ids.invoice = await send(
      { title: "Invoice 2026-12", content: "<p>Your <b>invoice</b> is attached.</p>", receiver: "client@example.com" },
      [{ filename: "invoice.txt", type: "text/plain", data: new TextEncoder().encode("amount: 42") }],
    );
    ids.bounce = await send({ title: "Welcome aboard", content: "<p>Welcome!</p>", receiver: "bounce@example.com" });
    ids.bounce2 = await send({ title: "Second welcome", content: "<p>Hi</p>", receiver: "bounce@example.com" });
    ids.hostile = await send(
      {
        title: `<img src=x onerror=alert("subject")><script>alert("subject")</script>`,
        sender_name: `<svg onload=alert("sender")>`,
        content: [
          `<script>alert("body")</script>`,
          `<img src="x" onerror="alert('img')">`,
          `<img src="${relay.url}${beacon}">`,
          `<iframe src="javascript:alert('frame')"></iframe>`,
          `<p onclick="alert('click')" style="color:red">hostile body</p>`,
        ].join(""),
        receiver: "hostile@example.com",
      },
      [
        {
          filename: `<img src=x onerror=alert(9)>.html`,
          type: "text/html",
          data: new TextEncoder().encode("<script>1</script>"),
        },
      ],
    );
    for (const key of ["weekly1", "weekly2", "weekly3", "invoice", "hostile"]) await waitForState(ids[key]!, "sent");
    await waitForState(ids.bounce!, "failed");
    await waitForState(ids.bounce2!, "failed");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
    await sink?.close();
  });

  it("sends a visitor to the login form; a read token looks, an admin token gets the buttons", async () => {
    await page.goto(`${relay.url}/console`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await checkAndShoot("login");
    await page.getByLabel(/Token/).fill("wrong-token-wrong-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await seeText(page.getByRole("alert"), "Unknown token.");
    await page.getByLabel(/Token/).fill(readToken);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.getByRole("button", { name: /Pause delivery/ }).count()).toBe(0);
    const cookie = (await context.cookies()).find((c) => c.name === "mailspool_console")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/console" });
    expect(cookie.expires).toBeGreaterThan(Date.now() / 1000);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel(/Token/).fill(adminToken);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("button", { name: "Pause delivery" }).waitFor();
  });

  it("shows the overview with counts, the chart and the upstream, and pauses and resumes", async () => {
    await seeText(page.locator(".count.state-sent dd"), "5");
    await seeText(page.locator(".count.state-failed dd"), "2");
    expect(await page.locator("svg[role=img] rect").count()).toBe(72);
    await seeText(page.getByRole("row", { name: /sink/ }), "/ 1000");
    await checkAndShoot("overview");
    await page.getByRole("button", { name: "Pause delivery" }).click();
    await page.getByRole("button", { name: "Resume delivery" }).waitFor();
    const health = (await (await fetch(`${relay.url}/health`)).json()) as { reasons: { code: string }[] };
    expect(health.reasons.map((r) => r.code)).toContain("delivery_paused");
    await page.getByRole("button", { name: "Resume delivery" }).click();
    await page.getByRole("button", { name: "Pause delivery" }).waitFor();
    // the figures refresh themselves (every 10 s): a mail sent now shows up without a reload
    const loads = requests.filter((url) => new URL(url).pathname === "/console").length;
    ids.later = await send({ title: "Sent while watching", content: "<p>x</p>", receiver: "later@example.com" });
    await waitFor(
      async () => (await page.locator(".count.state-sent dd").textContent()) === "6",
      15_000,
      "the overview to count the new mail",
    );
    expect(requests.filter((url) => new URL(url).pathname === "/console").length).toBe(loads);
  });

  it("refuses a POST without the session's CSRF token, and one from another origin", async () => {
    const status = await page.evaluate(async () => (await fetch("/console/pause", { method: "POST" })).status);
    expect(status).toBe(403);
    const forged = await page.evaluate(async () => {
      const body = new URLSearchParams({ _csrf: "forged" });
      return (await fetch("/console/pause", { method: "POST", body })).status;
    });
    expect(forged).toBe(403);
  });

  it("filters the mail list, opens a mail, previews it and downloads its .eml and attachment", async () => {
    await page.getByRole("link", { name: "Mails", exact: true }).click();
    await page.getByLabel("Subject contains").fill("weekly");
    await page.getByRole("button", { name: "Filter" }).click();
    await seeText(page.getByRole("status"), "3 mails.");
    await seeCount(page.locator("tbody tr"), 3);
    await page.getByLabel("State").selectOption("failed");
    await page.getByLabel("Subject contains").fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await seeCount(page.locator("tbody tr"), 2);
    await page.getByLabel("State").selectOption("");
    await page.getByRole("button", { name: "Filter" }).click();
    await checkAndShoot("mails");

    await page.getByRole("link", { name: "Invoice 2026-12" }).click();
    await page.getByRole("heading", { name: `Mail ${ids.invoice}` }).waitFor();
    await seeText(page.getByRole("row", { name: /client@example.com/ }), "sent");
    await seeText(page.locator(".timeline"), "250");
    const preview = page.frameLocator("iframe.preview");
    await seeText(preview.locator("b"), "invoice");
    await checkAndShoot("mail");

    const [eml] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: /Download the message/ }).click(),
    ]);
    expect(eml.suggestedFilename()).toBe(`${ids.invoice}.eml`);
    const emlText = fs.readFileSync((await eml.path())!, "utf8");
    expect(emlText).toContain("Subject: Invoice 2026-12");
    expect(emlText).toContain("filename=invoice.txt");
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "invoice.txt" }).click(),
    ]);
    expect(file.suggestedFilename()).toBe("invoice.txt");
    expect(fs.readFileSync((await file.path())!, "utf8")).toBe("amount: 42");
  });

  it("replays a failed mail with its button and shows the new attempt", async () => {
    sink.behaviour.onRcpt = undefined;
    await page.goto(`${relay.url}/console/mails/${ids.bounce}`);
    await seeCount(page.locator(".timeline > li"), 1);
    await seeText(page.locator(".timeline"), "550");
    await page.getByRole("button", { name: "Replay", exact: true }).click();
    await seeText(page.getByRole("status").first(), "Replayed");
    await waitForState(ids.bounce!, "sent");
    await page.reload();
    await seeCount(page.locator(".timeline > li"), 2);
    await seeText(page.locator(".timeline > li").nth(1), "Attempt 2: sent");
  });

  it("replays from the failed view after a confirmation step", async () => {
    await page.getByRole("link", { name: "Failed", exact: true }).click();
    await seeCount(page.locator("tbody tr"), 1);
    await checkAndShoot("failed");
    await page.getByLabel(/Choose Second welcome/).check();
    await page.getByLabel(/failed for good/).check();
    await page.getByRole("button", { name: "Replay chosen…" }).click();
    await page.getByRole("heading", { name: "Confirm" }).waitFor();
    expect(await stateOf(ids.bounce2!)).toBe("failed");
    await page.getByRole("button", { name: "Yes, replay them" }).click();
    await seeText(page.getByRole("status").first(), "1 of 1 done.");
    await waitForState(ids.bounce2!, "sent");
  });

  it("shows the effective config with secrets masked", async () => {
    await page.getByRole("link", { name: "Config", exact: true }).click();
    const text = await page.locator("pre.config").textContent();
    expect(text).toContain('"token": "***"');
    expect(text).not.toContain(adminToken);
    await checkAndShoot("config");
  });

  it("runs nothing of a hostile mail: no dialog, no request", async () => {
    requests.length = 0;
    await page.goto(`${relay.url}/console/mails?subject=${encodeURIComponent("<script>")}`);
    await page.getByRole("link", { name: /alert\("subject"\)/ }).click();
    await page.getByRole("heading", { name: `Mail ${ids.hostile}` }).waitFor();
    await seeText(page.frameLocator("iframe.preview").locator("p"), "hostile body");
    await page.frameLocator("iframe.preview").locator("p").click();
    await page.getByRole("link", { name: "<img src=x onerror=alert(9)>.html" }).focus();
    await page.waitForLoadState("load");
    expect(dialogs).toEqual([]);
    const foreign = requests.filter((url) => !url.startsWith(`${relay.url}/console`) || url.includes(beacon));
    expect(foreign).toEqual([]);
    await checkAndShoot("hostile-mail");
  });
});
