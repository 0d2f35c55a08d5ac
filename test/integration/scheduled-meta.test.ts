// Scheduled send and the sender's headers, tags and metadata through the relay running in
// this process, its real spool and a real SMTP sink: each encoding (JSON, urlencoded,
// multipart, pickup file) carries them; the sink receives the headers; the status API,
// lists, /health, /metrics and the CLI show the `scheduled` state; a cancelled scheduled
// mail is never sent; a bad value is a 400 naming it.
import path from "node:path";
import fc from "fast-check";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayRecipients } from "../../src/delivery/action-rules.js";
import { writePickupFile } from "../../src/pickup/pickup-file.js";
import { runCli, runCliAsync } from "../helpers/cli.js";
import { get, post, sendForm } from "../helpers/http.js";
import { deliveryYaml, startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { startSmtpSink, type SinkMessage, type SmtpSink } from "../helpers/smtp-sink.js";
import { waitFor } from "../helpers/tmp-dir.js";

let relay: InProcessRelay;
let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
  relay = await startInProcess(
    deliveryYaml(sink.port, ["  from: relay@example.org", "  maxScheduleDays: 2"], "primary"),
    { pickupIntervalMs: 50 },
  );
});
afterAll(async () => {
  await relay.stop();
  await sink.close();
});

/** `at` as RFC 3339 in a zone `offsetMinutes` east of UTC (e.g. +01:00). */
function rfc3339(at: number, offsetMinutes: number): string {
  const local = new Date(at + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

type Encoding = "json" | "urlencoded" | "multipart";
const encodings: Encoding[] = ["json", "urlencoded", "multipart"];

/** A send with extras as JSON takes them (objects and lists); a form takes the objects as JSON strings and tags comma-separated. */
function sendWith(encoding: Encoding, fields: Record<string, unknown>) {
  const base = { title: "hello", content: "<p>hi</p>", receiver: "a@example.com" };
  if (encoding === "json")
    return post(relay.url, JSON.stringify({ ...base, ...fields }), { "content-type": "application/json" });
  const flat = Object.fromEntries(
    Object.entries({ ...base, ...fields }).map(([k, v]) => [
      k,
      typeof v === "string" ? v : Array.isArray(v) ? (v as string[]).join(",") : JSON.stringify(v),
    ]),
  );
  if (encoding === "urlencoded")
    return post(relay.url, new URLSearchParams(flat).toString(), {
      "content-type": "application/x-www-form-urlencoded",
    });
  return post(relay.url, sendForm(flat));
}

/** A send request dropped into pickup/ as a file. */
function pickupFile(fields: Record<string, unknown>): void {
  const request = { title: "picked", content: "<p>p</p>", receiver: "p@example.com", ...fields };
  writePickupFile(path.join(relay.dir, "data/pickup"), "extras", request);
}

async function messageOf(id: string): Promise<SinkMessage> {
  return waitFor(
    () => sink.messages.find((m) => m.raw.toString().includes(`<${id}@example.org>`)),
    10_000,
    `mail ${id} at the sink`,
  );
}

/** A header's value as sent (unfolded, RFC 2047 encoded words decoded), found without case. */
function headerOf(raw: Buffer, name: string): string | undefined {
  const head = raw
    .toString()
    .split("\r\n\r\n")[0]!
    .replace(/\r\n(?=[ \t])/g, "");
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? undefined : decodeWords(line.slice(name.length + 1).trim());
}

/** Runs of UTF-8 encoded words (B or Q; the space between two words is not text) → their text. */
function decodeWords(value: string): string {
  const word = /=\?UTF-8\?([BQ])\?([^?]*)\?=/gi;
  return value.replace(/=\?UTF-8\?[BQ]\?[^?]*\?=(?:[ \t]+=\?UTF-8\?[BQ]\?[^?]*\?=)*/gi, (run) => {
    const bytes = [...run.matchAll(word)].map(([, encoding, text]) =>
      encoding!.toUpperCase() === "B"
        ? Buffer.from(text!, "base64")
        : Buffer.from(
            text!
              .replace(/_/g, " ")
              .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            "latin1",
          ),
    );
    return Buffer.concat(bytes).toString("utf8");
  });
}

const extraHeaders = {
  "X-Campaign-Id": "winter-2026",
  "List-Unsubscribe": "<https://example.com/u/1>, <mailto:u@example.com>",
  "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
  "In-Reply-To": "<parent@example.com>",
  References: "<root@example.com> <parent@example.com>",
  "Auto-Submitted": "auto-generated",
  "X-Note": "Grüße",
};

describe("headers, tags and metadata", () => {
  it.each(encodings)(
    "%s: the sink receives the headers; the status API returns tags and metadata",
    async (encoding) => {
      const tags = ["welcome", `enc:${encoding}`];
      const metadata = { user_id: "42", plan: "gold" };
      const answer = await sendWith(encoding, { headers: extraHeaders, tags, metadata });
      expect(answer.status).toBe(200);
      const id = answer.body.data.id;
      const raw = (await messageOf(id)).raw;
      for (const [name, value] of Object.entries(extraHeaders)) expect(headerOf(raw, name)).toBe(value);
      // not ASCII: RFC 2047 encoded words, as a header must carry it
      expect(raw.toString()).toContain("X-Note: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=");
      const parsed = await simpleParser(raw);
      expect(parsed.inReplyTo).toBe("<parent@example.com>");
      expect(parsed.references).toEqual(["<root@example.com>", "<parent@example.com>"]);
      const status = await relay.waitForState(id, ["sent"]);
      expect(status).toMatchObject({ tags, metadata, sendAt: null });
      const listed = await get(relay.url, `/api/email?tag=enc:${encoding}`);
      expect(listed.body.data.items.map((i: { id: string }) => i.id)).toEqual([id]);
      expect(listed.body.data.items[0].tags).toEqual(tags);
    },
  );

  it("refuses a hostile or unlisted header by name and sends nothing", async () => {
    const before = sink.messages.length;
    for (const encoding of encodings) {
      const answer = await sendWith(encoding, {
        headers: { "X-Evil": "a\r\nBcc: victim@example.com", From: "boss@example.com", "X-Ok": "fine" },
        tags: ["ok", "no spaces"],
        metadata: { "bad key": "v" },
      });
      expect(answer.status).toBe(400);
      expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toEqual([
        "headers.X-Evil",
        "headers.From",
        "tags[1]",
        "metadata.bad key",
      ]);
    }
    expect(sink.messages.length).toBe(before);
  });

  it("a generated value reaches the sink as sent, or is refused by name when it holds a control (property)", async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 250,
    });
    const value = fc
      .array(fc.oneof({ weight: 4, arbitrary: printable }, fc.constantFrom("\r", "\n", "\r\n", "\0", "\x1b", "\x7f")), {
        minLength: 1,
        maxLength: 6,
      })
      .map((parts) => parts.join(""));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(value, fc.constantFrom(...encodings), async (v, encoding) => {
        const title = `generated ${(n += 1)}`;
        const answer = await sendWith(encoding, { title, headers: { "X-Gen": v } });
        if (/[\0-\x1f\x7f]/.test(v) || v.trim() === "" || v.length > 998) {
          expect(answer.status).toBe(400);
          expect(answer.body.data.errors).toEqual([{ field: "headers.X-Gen", message: expect.any(String) }]);
          return;
        }
        expect(answer.status).toBe(200);
        const raw = (await messageOf(answer.body.data.id)).raw;
        const head = raw.toString().split("\r\n\r\n")[0]!;
        expect(head).not.toMatch(/[\0\x1b\x7f]|\r(?!\n)|(?<!\r)\n/);
        expect(headerOf(raw, "X-Gen")).toBe(v.trim());
      }),
      { numRuns: 60 },
    );
  });

  it("a pickup file carries them too", async () => {
    pickupFile({
      headers: { "X-From-Pickup": "yes" },
      tags: ["pickup"],
      metadata: { source: "file" },
    });
    const listed = await waitFor(async () => {
      const answer = await get(relay.url, "/api/email?tag=pickup");
      return answer.body.data.items[0];
    });
    expect(headerOf((await messageOf(listed.id)).raw, "X-From-Pickup")).toBe("yes");
    expect(await relay.waitForState(listed.id, ["sent"])).toMatchObject({ metadata: { source: "file" } });
  });
});

describe("scheduled send", () => {
  it.each(encodings)("%s: refuses a bad send_at by name", async (encoding) => {
    const now = Date.now();
    for (const sendAt of [
      "tomorrow",
      "2026-12-24T09:00:00",
      rfc3339(now - 3_600_000, 60),
      rfc3339(now + 3 * 86_400_000, -300),
    ]) {
      const answer = await sendWith(encoding, { send_at: sendAt });
      expect(answer.status).toBe(400);
      expect(answer.body.data.errors.map((e: { field: string }) => e.field)).toEqual(["send_at"]);
    }
  });

  it("holds the mail as scheduled until its time, shows it everywhere, then sends it within a second", async () => {
    // far enough ahead that the checks below end before it is due (the CLI runs are separate processes: under
    // load they take seconds)
    const at = Date.now() + 6_000;
    const sendAt = rfc3339(at, 60);
    const answer = await sendWith("json", { send_at: sendAt, tags: ["later"] });
    expect(answer.status).toBe(200);
    const id = answer.body.data.id;
    const status = (await get(relay.url, `/api/email/${id}`)).body.data;
    expect(status).toMatchObject({ state: "scheduled", sendAt: new Date(at - (at % 1000)).toISOString() });
    expect(status.nextAttemptAt).toBe(status.sendAt);
    const listed = (await get(relay.url, "/api/email?state=scheduled")).body.data.items;
    expect(listed.map((i: { id: string }) => i.id)).toContain(id);
    expect((await get(relay.url, "/health")).body).toMatchObject({ details: { scheduled_emails: 1 } });
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toMatch(/^mailspool_scheduled_mails 1$/m);
    const ls = await runCliAsync(["spool", "ls", "--state", "scheduled", "--json"], relay.dir);
    expect(ls.stdout).toContain(id);
    expect(JSON.parse((await runCliAsync(["spool", "stat", "--json"], relay.dir)).stdout).mails.scheduled).toBe(1);
    expect(() => replayRecipients(relay.spool.index.get(id), id)).toThrow(/scheduled/);
    const message = await messageOf(id);
    const due = Date.parse(status.sendAt);
    expect(message.at).toBeGreaterThanOrEqual(due);
    expect(message.at - due).toBeLessThan(1_000);
    expect(await relay.waitForState(id, ["sent"])).toMatchObject({ sendAt: status.sendAt, tags: ["later"] });
  });

  it("a cancelled scheduled mail is never sent; a time just past is sent at once", async () => {
    const sendAt = rfc3339(Date.now() + 5_000, 0); // time for two sends and a cancel before it is due, under load
    const kept = (await sendWith("urlencoded", { send_at: sendAt, title: "kept" })).body.data.id;
    const dropped = (await sendWith("multipart", { send_at: sendAt, title: "dropped" })).body.data.id;
    const cancel = await fetch(`${relay.url}/admin/cancel/${dropped}`, { method: "POST" });
    expect(cancel.status).toBe(200);
    expect((await get(relay.url, `/api/email/${dropped}`)).body.data.state).toBe("cancelled");
    const now = (await sendWith("json", { send_at: rfc3339(Date.now() - 60_000, 120) })).body.data.id;
    expect((await relay.waitForState(now, ["sent"])).sendAt).toBeNull();
    await messageOf(kept);
    expect(sink.messages.some((m) => m.raw.toString().includes(`<${dropped}@example.org>`))).toBe(false);
  });

  it("a pickup file may schedule", async () => {
    pickupFile({
      send_at: rfc3339(Date.now() + 60_000, 0),
      tags: ["pickup-scheduled"],
    });
    const listed = await waitFor(
      async () => (await get(relay.url, "/api/email?tag=pickup-scheduled")).body.data.items[0],
    );
    expect(listed.state).toBe("scheduled");
  });
});
