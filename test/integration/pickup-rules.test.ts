// Pickup files against the real binary and a real SMTP sink, on the review of issue 10:
// replay and cancel files that are not exactly their shape (the review's four examples and
// generated mutations) are rejected naming the key, and nothing is replayed or cancelled; a
// name used within 24 h keeps a different file (rejected, saying which mail the name went to)
// and removes the very same file, across a restart too, for a new mail, a replay and a
// cancel; invalid files with names at and around the 255-byte limit, multi-byte included,
// are rejected under names that fit. fsck is clean after each.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterEach, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import { sinkWithConfig } from "../helpers/pickup-relay.js";
import { membersText, mutatedAction } from "../helpers/pickup-requests.js";
import { scanSpool } from "../helpers/reliability.js";
import { startRelay, type RelayProcess } from "../helpers/server-process.js";
import type { SmtpSink } from "../helpers/smtp-sink.js";
import { waitFor } from "../helpers/tmp-dir.js";

const open: { relays: RelayProcess[]; sinks: SmtpSink[] } = { relays: [], sinks: [] };
afterEach(async () => {
  await Promise.all(open.relays.splice(0).map((r) => r.kill()));
  await Promise.all(open.sinks.splice(0).map((s) => s.close()));
});

async function setup(codes: Record<string, number> = {}) {
  const { sink, dir } = await sinkWithConfig(codes);
  open.sinks.push(sink);
  const pickup = path.join(dir, "data/pickup");
  return { sink, dir, pickup, relay: await start(dir) };
}

async function start(dir: string): Promise<RelayProcess> {
  const relay = await startRelay({ cwd: dir });
  open.relays.push(relay);
  return relay;
}

async function stopCleanly(relay: RelayProcess, dir: string): Promise<void> {
  expect(await relay.stop()).toBe(0);
  open.relays.splice(open.relays.indexOf(relay), 1);
  const fsck = runCli(["fsck", "-c", "app.yaml"], dir);
  expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
}

async function send(relay: RelayProcess, receiver: string, title = "ops"): Promise<string> {
  const answer = await post(relay.url, JSON.stringify({ title, content: "<p>x</p>", receiver }), {
    "content-type": "application/json",
  });
  expect(answer.status).toBe(200);
  return answer.body.data.id;
}

const waitForState = (relay: RelayProcess, id: string, state: string) =>
  waitFor(async () => (await get(relay.url, `/api/email/${id}`)).body.data?.state === state, 10_000, `${id} ${state}`);

/** Lands a file by rename, as `mv` does, so the watcher never sees half of it. */
function drop(pickup: string, name: string, content: string): void {
  const temp = path.join(pickup, `.drop-${Math.random().toString(36).slice(2)}.tmp`);
  fs.writeFileSync(temp, content);
  fs.renameSync(temp, path.join(pickup, name));
}

const gone = (pickup: string, name: string) => waitFor(() => !fs.existsSync(path.join(pickup, name)), 5_000, name);
const reasonOf = (pickup: string, target: string) =>
  fs.readFileSync(path.join(pickup, "rejected", `${target}.reason.txt`), "utf8");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const keyed = (dir: string, name: string) =>
  scanSpool(path.join(dir, "data")).records.filter(
    (r) => "idempotencyKey" in r && r.idempotencyKey === `pickup:${name}`,
  ) as { type: string; id: string; requestHash?: string }[];

it("a replay or cancel file that is not exactly its shape is rejected naming the key; nothing is replayed or cancelled", async () => {
  const codes: Record<string, number> = { "a@example.com": 550, "b@example.com": 550 };
  const { sink, dir, pickup, relay } = await setup(codes);
  const id = await send(relay, "a@example.com,b@example.com");
  await waitForState(relay, id, "failed");
  delete codes["a@example.com"];
  delete codes["b@example.com"];

  const files: { name: string; text: string; named: string }[] = [
    { name: "bad-typo.json", text: `{"replay":"${id}","recipents":["a@example.com"]}`, named: "recipents" },
    { name: "bad-string.json", text: `{"replay":"${id}","recipients":"a@example.com"}`, named: "recipients" },
    { name: "bad-both.json", text: `{"cancel":"${id}","replay":"${id}"}`, named: "cancel" },
    {
      name: "bad-twice.json",
      text: `{"replay":"${id}","recipients":["b@example.com"],"recipients":["a@example.com"]}`,
      named: "recipients",
    },
  ];
  const generated = fc.sample(mutatedAction(fc.constant(id), fc.constantFrom("a@example.com", "b@example.com")), 30);
  for (const [n, { members, named }] of generated.entries())
    files.push({ name: `bad-gen-${String(n).padStart(2, "0")}.json`, text: membersText(members), named });
  for (const file of files) drop(pickup, file.name, file.text);
  for (const file of files) await gone(pickup, file.name);

  for (const file of files) {
    const lines = reasonOf(pickup, file.name).split("\n");
    expect(
      lines.some((l) => l.startsWith(`${file.named}: `) || l.startsWith(`${file.named}[`)),
      `${file.text}\n${lines.join("\n")}`,
    ).toBe(true);
    expect(lines.at(-2)).toBe(`file: ${JSON.stringify(file.name)}`);
  }
  expect((await get(relay.url, `/api/email/${id}`)).body.data.state).toBe("failed");
  const actions = scanSpool(path.join(dir, "data")).records.filter((r) => r.type === "replay" || r.type === "cancel");
  expect(actions).toEqual([]);

  // the well-formed replay still works, to the recipient it names only
  drop(pickup, "good.json", `{"replay":"${id}","recipients":["a@example.com"]}`);
  await waitForState(relay, id, "partial");
  expect(sink.messages.map((m) => m.to)).toEqual([["a@example.com"]]);
  await stopCleanly(relay, dir);
});

it("a name used within 24 h: the same bytes are removed, other bytes rejected naming the mail, across a restart", async () => {
  const codes: Record<string, number> = { "f@example.com": 550, "d@example.com": 451 };
  const { sink, dir, pickup, relay } = await setup(codes);
  const failed = await send(relay, "f@example.com");
  const deferred = await send(relay, "d@example.com");
  await waitForState(relay, failed, "failed");
  await waitForState(relay, deferred, "deferred");
  delete codes["f@example.com"];

  const first = {
    "mail.json": JSON.stringify({ title: "first", content: "<p>1</p>", receiver: "m@example.com" }),
    "replay.json": JSON.stringify({ replay: failed }),
    "cancel.json": JSON.stringify({ cancel: deferred }),
  };
  const other = {
    "mail.json": JSON.stringify({ title: "second", content: "<p>2</p>", receiver: "m@example.com" }),
    "replay.json": JSON.stringify({ replay: failed, recipients: ["f@example.com"] }),
    "cancel.json": `{ "cancel": "${deferred}" }`,
  };
  for (const [name, text] of Object.entries(first)) drop(pickup, name, text);
  for (const name of Object.keys(first)) await gone(pickup, name);
  await waitForState(relay, failed, "sent");
  await waitForState(relay, deferred, "cancelled");
  await sink.waitForMessages(2);
  const mail = keyed(dir, "mail.json")[0]!.id;
  const used = { "mail.json": mail, "replay.json": failed, "cancel.json": deferred };
  for (const [name, text] of Object.entries(first))
    expect(keyed(dir, name).map((r) => r.requestHash)).toEqual([sha256(text)]);

  let live = relay;
  for (const round of ["running", "restarted"]) {
    if (round === "restarted") {
      await stopCleanly(live, dir);
      live = await start(dir);
    }
    for (const [name, text] of Object.entries(other)) drop(pickup, name, text);
    for (const name of Object.keys(other)) await gone(pickup, name);
    for (const [name, id] of Object.entries(used)) {
      const target =
        round === "running"
          ? name
          : fs.readdirSync(path.join(pickup, "rejected")).find((n) => n.startsWith(`${name}.`) && !n.endsWith(".txt"))!;
      const reason = reasonOf(pickup, target);
      expect(reason, name).toMatch(
        new RegExp(`^the name was already used for mail ${id} at \\S+Z, within the last 24 h`),
      );
      expect(reason, name).toContain("each pickup file needs a new name");
      expect(fs.readFileSync(path.join(pickup, "rejected", target), "utf8")).toBe(other[name as keyof typeof other]);
    }
    // the very same file again, as after a crash between spooling it and removing it
    for (const [name, text] of Object.entries(first)) drop(pickup, name, text);
    for (const name of Object.keys(first)) await gone(pickup, name);
    for (const name of Object.keys(first)) {
      expect(keyed(dir, name), name).toHaveLength(1);
      const removedLines = () =>
        live
          .output()
          .split("\n")
          .filter((l) => l.includes(`"file":"${name}"`) && l.includes("already ingested"));
      // the file is gone a moment before its log line reaches the pipe
      await waitFor(() => removedLines().length > 0, 5_000, `the "already ingested" line of ${name}`);
      expect(removedLines(), name).toHaveLength(1);
    }
  }
  expect(fs.readdirSync(path.join(pickup, "rejected"))).toHaveLength(12);
  expect(sink.messages.map((m) => m.raw.toString().match(/^Subject: (.*)$/m)![1]).sort()).toEqual(["first", "ops"]);
  await stopCleanly(live, dir);
});

it("an invalid file with a name at or around the 255-byte limit, multi-byte too, is rejected under a name that fits", async () => {
  const { sink, dir, pickup, relay } = await setup();
  const bytes = (name: string) => Buffer.byteLength(name);
  const names = [
    `${"n".repeat(245)}.json`,
    `${"k".repeat(239)}.json`,
    `${"l".repeat(240)}.json`,
    `${"é".repeat(125)}.json`,
    `${"中".repeat(83)}.json`,
    `${"😀".repeat(62)}x.json`,
    `${"z".repeat(250)}.json`,
  ];
  expect(names.map(bytes)).toEqual([250, 244, 245, 255, 254, 254, 255]);
  for (const name of names) drop(pickup, name, '{"title": "no receiver", "content": "x"}');
  for (const name of names) await gone(pickup, name);
  // the same long name rejected again keeps the first (time suffix), and a valid file with a 255-byte name is sent
  drop(pickup, names[0]!, "not json");
  await gone(pickup, names[0]!);
  const long = `${"v".repeat(250)}.json`;
  drop(pickup, long, JSON.stringify({ title: "long name", content: "<p>x</p>", receiver: "v@example.com" }));
  await sink.waitForMessages(1);

  const rejected = fs.readdirSync(path.join(pickup, "rejected"));
  const reasons = rejected.filter((n) => n.endsWith(".reason.txt"));
  expect(reasons).toHaveLength(names.length + 1);
  const byName = new Map<string, string[]>();
  for (const reason of reasons) {
    const text = reasonOf(pickup, reason.slice(0, -".reason.txt".length));
    const original = JSON.parse(/^file: (.*)$/m.exec(text)![1]!) as string;
    byName.set(original, [...(byName.get(original) ?? []), reason.slice(0, -".reason.txt".length)]);
  }
  for (const name of names) {
    const targets = byName.get(name)!;
    expect(targets, name).toHaveLength(name === names[0] ? 2 : 1);
    for (const target of targets) {
      expect(rejected).toContain(target);
      expect(bytes(`${target}.reason.txt`)).toBeLessThanOrEqual(255);
      if (bytes(name) <= 244) expect(target).toMatch(new RegExp(`^${name.replace(".", "\\.")}(\\.\\d{13})?$`));
      else expect(name.startsWith(target.replace(/~[0-9a-f]{16}\.json(\.\d{13})?$/, ""))).toBe(true);
    }
  }
  const output = relay.output();
  expect(output).not.toContain("cannot be moved");
  expect(output).not.toContain("not ingested");
  expect(output.split("\n").filter((l) => l.includes('"msg":"pickup file rejected"'))).toHaveLength(names.length + 1);
  expect(fs.readdirSync(pickup)).toEqual(["rejected"]);
  await stopCleanly(relay, dir);
});

it("refuses a file whose name is not UTF-8 by its bytes, once, and keeps ingesting the others", async () => {
  const { sink, dir, pickup, relay } = await setup();
  const raw = Buffer.concat([Buffer.from("bad"), Buffer.from([0xff, 0xfe]), Buffer.from(".json")]);
  fs.writeFileSync(
    Buffer.concat([Buffer.from(`${pickup}/`), raw]),
    '{"title":"t","content":"x","receiver":"a@example.com"}',
  );
  drop(pickup, "good.json", JSON.stringify({ title: "after", content: "<p>x</p>", receiver: "g@example.com" }));
  await sink.waitForMessages(1);
  await waitFor(() => fs.readdirSync(pickup).length === 1, 5_000, "the undecodable name to leave pickup/");
  const reasons = fs.readdirSync(path.join(pickup, "rejected")).filter((n) => n.endsWith(".reason.txt"));
  expect(reasons).toHaveLength(1);
  expect(fs.readFileSync(path.join(pickup, "rejected", reasons[0]!), "utf8")).toContain("not valid UTF-8");
  const lines = relay.output().split("\n");
  expect(lines.filter((l) => l.includes("name is not UTF-8"))).toHaveLength(1);
  await stopCleanly(relay, dir);
});
