// Templates (issue 14) on the real binary and a real SMTP upstream: a variable holding
// <script> arrives escaped in the HTML part and as written in the text part and the subject,
// over JSON, urlencoded, multipart and a pickup file; refusals name the field; SIGHUP takes
// an edited template (and refuses a broken one, keeping the old set); `template render`
// previews with the API's messages.
import fs from "node:fs";
import path from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get, post, sendForm } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const hostile = `Ann <script>alert("x")</script> & co`;
const escaped = "Ann &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co";

let sink: SmtpSink;
let relay: RelayProcess;
let dir: string;
let templates: string;

const writeTemplate = (file: string, text: string) => fs.writeFileSync(path.join(templates, file), text);

beforeAll(async () => {
  sink = await startSmtpSink();
  dir = tmpDir();
  templates = path.join(dir, "templates");
  fs.mkdirSync(templates);
  writeTemplate("welcome.html", "<h1>Welcome, {{ name }}!</h1><p>Plan: {{ plan | default: 'free' }}</p>\n");
  writeTemplate("welcome.txt", "Welcome, {{ name }}!\nPlan: {{ plan | default: 'free' }}\n");
  writeTemplate("welcome.subject", "Welcome, {{ name }}\n");
  writeTemplate("note.html", "<p>{{ body }}</p>\n");
  writeConfig(
    dir,
    ["templates:", "  dir: ./templates", deliveryYaml(sink.port, ["  from: relay@example.org"])].join("\n"),
  );
  relay = await startRelay({ cwd: dir });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.close();
});

/** The message the sink got for mail `id`, parsed. */
async function delivered(id: string): Promise<ParsedMail> {
  const message = await waitFor(() => sink.messages.find((m) => m.raw.includes(id)), 10_000, `mail ${id} at the sink`);
  return simpleParser(message.raw);
}

const json = (body: unknown) => post(relay.url, JSON.stringify(body), { "content-type": "application/json" });

describe("a template rendered at intake", () => {
  it("escapes a variable's <script> in the HTML part, keeps it as written in text and subject (JSON)", async () => {
    const answer = await json({ template: "welcome", variables: { name: hostile }, receiver: "a@example.com" });
    expect(answer.status).toBe(200);
    const id = answer.body.data.id as string;
    const mail = await delivered(id);
    expect(mail.html).toContain(`<h1>Welcome, ${escaped}!</h1><p>Plan: free</p>`);
    expect(mail.html).not.toContain("<script>");
    expect(mail.text).toBe(`Welcome, ${hostile}!\nPlan: free\n`);
    expect(mail.subject).toBe(`Welcome, ${hostile}`);
    const status = await get(relay.url, `/api/email/${id}`);
    expect(status.body.data).toMatchObject({ template: "welcome", subject: `Welcome, ${hostile}` });
    const record = fs
      .readdirSync(path.join(dir, "data/spool"))
      .map((f) => fs.readFileSync(path.join(dir, "data/spool", f), "utf8"))
      .join("")
      .split("\n")
      .find((line) => line.includes(`"id":"${id}"`) && line.includes('"type":"accepted"'));
    // the record holds the rendered mail, not the variables: a replay sends the same bytes
    expect(record).toContain(JSON.stringify(`<h1>Welcome, ${escaped}!</h1>`).slice(1, -1));
    expect(record).not.toContain('"variables"');
  });

  it("takes variables as a JSON string in urlencoded and multipart forms; title is the subject of a template without one", async () => {
    const form = await post(
      relay.url,
      new URLSearchParams({ template: "welcome", variables: '{"name":"Bo","plan":"pro"}', receiver: "b@example.com" }),
    );
    expect(form.status).toBe(200);
    const first = await delivered(form.body.data.id);
    expect(first.subject).toBe("Welcome, Bo");
    expect(first.html).toContain("<p>Plan: pro</p>");
    const multipart = await post(
      relay.url,
      sendForm({
        template: "note",
        variables: JSON.stringify({ body: "<b>hi</b>" }),
        title: "A note",
        receiver: "c@example.com",
      }),
    );
    expect(multipart.status).toBe(200);
    const second = await delivered(multipart.body.data.id);
    expect(second.subject).toBe("A note");
    expect(second.html).toContain("<p>&lt;b&gt;hi&lt;/b&gt;</p>");
    // no note.txt: the relay's usual text part derived from the HTML
    expect(second.text?.trim()).toBe("<b>hi</b>");
  });

  it("renders a pickup file's template like an HTTP request's", async () => {
    const file = path.join(dir, "data/pickup/templated.json");
    fs.writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ template: "welcome", variables: { name: "<Pick>" }, receiver: "p@example.com" }),
    );
    fs.renameSync(`${file}.tmp`, file);
    const message = await waitFor(
      () => sink.messages.find((m) => m.to.includes("p@example.com")),
      10_000,
      "the pickup mail",
    );
    const mail = await simpleParser(message.raw);
    expect(mail.subject).toBe("Welcome, <Pick>");
    expect(mail.html).toContain("Welcome, &lt;Pick&gt;!");
  });

  it("answers 400 naming the field: missing variable, unknown template, a path, bad variables, mixed fields", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ template: "welcome", variables: { plan: "pro" } }, "variables.name", /welcome\.html uses name \(line 1\)/],
      [{ template: "welcome" }, "variables.name", /which variables does not give/],
      [{ template: "nope", variables: {} }, "template", /no template named "nope"/],
      [{ template: "../../etc/passwd" }, "template", /never a path/],
      [{ template: "welcome", variables: [1] }, "variables", /must be a JSON object/],
      [{ template: "welcome", variables: "{not json" }, "variables", /must be a JSON object/],
      [{ template: "welcome", variables: { name: "x".repeat(70_000) } }, "variables", /too large/],
      [{ template: "welcome", variables: { name: "a\nBcc: x@example.com" } }, "variables.name", /CR, LF or NUL/],
      [
        { template: "welcome", variables: { name: "x" }, content: "<p>mine</p>" },
        "content",
        /not allowed with template/,
      ],
      [{ template: "welcome", variables: { name: "x" }, title: "mine" }, "title", /welcome\.subject gives the subject/],
      [{ template: "note", variables: { body: "x" } }, "title", /title is required/],
      [{ variables: { name: "x" }, title: "t", content: "c" }, "variables", /only used with template/],
    ];
    for (const [fields, field, message] of cases) {
      const answer = await json({ receiver: "a@example.com", ...fields });
      expect(answer.status, JSON.stringify(fields).slice(0, 200)).toBe(400);
      expect(answer.body.data.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
    }
  });
});

describe("Idempotency-Key", () => {
  it("sees the same variables as the same request, whether sent as JSON or as a form field's JSON text", async () => {
    const key = { "idempotency-key": "welcome-ann-1" };
    const variables = { name: "Ann", plan: "pro" };
    const first = await post(relay.url, JSON.stringify({ template: "welcome", variables, receiver: "k@example.com" }), {
      "content-type": "application/json",
      ...key,
    });
    expect(first.status).toBe(200);
    const again = await post(
      relay.url,
      new URLSearchParams({ template: "welcome", variables: JSON.stringify(variables), receiver: "k@example.com" }),
      key,
    );
    expect(again.body.data.id).toBe(first.body.data.id);
    const other = await post(
      relay.url,
      JSON.stringify({ template: "welcome", variables: { ...variables, plan: "free" }, receiver: "k@example.com" }),
      { "content-type": "application/json", ...key },
    );
    expect(other.status).toBe(409);
  });
});

describe("SIGHUP", () => {
  const reloads = () => relay.output().split("config reloaded").length;

  it("picks up an edited template, refuses a broken one keeping the old set, and leaves accepted mails as rendered", async () => {
    const before = await json({ template: "note", variables: { body: "old" }, title: "v1", receiver: "h@example.com" });
    writeTemplate("note.html", "<p>v2: {{ body }}</p>\n");
    const count = reloads();
    relay.child.kill("SIGHUP");
    await waitFor(() => reloads() > count, 5_000, "the reload");
    const after = await json({ template: "note", variables: { body: "new" }, title: "v2", receiver: "h@example.com" });
    expect((await delivered(after.body.data.id)).html).toContain("<p>v2: new</p>");
    expect((await delivered(before.body.data.id)).html).toContain("<p>old</p>");

    writeTemplate("note.html", "<p>{% if body %}</p>\n");
    const refusals = relay.output().split("new config refused").length;
    relay.child.kill("SIGHUP");
    await waitFor(() => relay.output().split("new config refused").length > refusals, 5_000, "the refusal");
    expect(relay.output()).toMatch(/templates\.dir: note\.html: tag \{% if body %\} not closed/);
    const kept = await json({ template: "note", variables: { body: "kept" }, title: "v3", receiver: "h@example.com" });
    expect((await delivered(kept.body.data.id)).html).toContain("<p>v2: kept</p>");
    writeTemplate("note.html", "<p>{{ body }}</p>\n");
  });
});

describe("mailspool template render", () => {
  it("prints subject, text and HTML as the relay renders them", () => {
    const vars = path.join(dir, "vars.json");
    fs.writeFileSync(vars, JSON.stringify({ name: hostile }));
    const result = runCli(["template", "render", "welcome", "--vars", vars, "-c", path.join(dir, "app.yaml")], "/");
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `subject: Welcome, ${hostile}\n\n--- text ---\nWelcome, ${hostile}!\nPlan: free\n\n--- html ---\n` +
        `<h1>Welcome, ${escaped}!</h1><p>Plan: free</p>\n`,
    );
  });

  it("exits 1 with the API's message for a missing variable, 2 for a name that is a path", async () => {
    const vars = path.join(dir, "partial.json");
    fs.writeFileSync(vars, JSON.stringify({ plan: "pro" }));
    const result = runCli(["template", "render", "welcome", "--vars", vars], dir);
    expect(result.code).toBe(1);
    const api = await json({ template: "welcome", variables: { plan: "pro" }, receiver: "a@example.com" });
    const [error] = api.body.data.errors as { field: string; message: string }[];
    expect(result.stderr).toContain(`mailspool: ${error!.field}: ${error!.message}\n`);
    const usage = runCli(["template", "render", "../welcome"], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: mailspool template render [options] <name>");
  });

  it("check-config lists the templates, and names the file that does not compile", () => {
    const good = runCli(["check-config"], dir);
    expect(good.code).toBe(0);
    expect(good.stderr).toContain(`templates in ${templates}: note (.html), welcome (.html .txt .subject)`);
    writeTemplate("broken.html", "{{ x | nosuchfilter }}");
    try {
      const bad = runCli(["check-config"], dir);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/templates\.dir: broken\.html: undefined filter: nosuchfilter/);
    } finally {
      fs.rmSync(path.join(templates, "broken.html"));
    }
  });
});
