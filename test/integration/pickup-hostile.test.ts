// A hostile pickup directory against the real binary: a FIFO named x.json, symlinks to
// /dev/zero, /dev/null, a secret file outside pickup/ and a valid mail, a 100 MiB file, a
// directory d.json, a socket, a hard link, malformed JSON, then 120 more bad entries
// followed by a good one. Each bad entry is moved to rejected/ with a reason naming what it
// is, logged once, never read through a link (the secret shows up nowhere), the big file is
// refused by its size without being read (peak RSS stays small), the good files are
// ingested within a couple of scans, replay and cancel still work, SIGTERM is prompt and
// fsck is clean. Then an entry that cannot even be moved: left in place, logged once.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { get, post } from "../helpers/http.js";
import {
  entryKinds,
  makeEntry,
  readableFiles,
  reasonPattern,
  type EntryContext,
  type EntryKind,
} from "../helpers/pickup-entries.js";
import { sinkWithConfig } from "../helpers/pickup-relay.js";
import { startRelay, type RelayProcess } from "../helpers/server-process.js";
import type { SmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

/** The binary's pickup scan interval. */
const scanMs = 1000;

const open: { relays: RelayProcess[]; sinks: SmtpSink[]; context?: EntryContext } = { relays: [], sinks: [] };
afterEach(async () => {
  await Promise.all(open.relays.splice(0).map((r) => r.kill()));
  await Promise.all(open.sinks.splice(0).map((s) => s.close()));
  for (const server of open.context?.servers.splice(0) ?? []) server.close();
});

async function setup(codes: Record<string, number> = {}, before?: (dir: string) => void) {
  const { sink, dir } = await sinkWithConfig(codes);
  open.sinks.push(sink);
  before?.(dir);
  const relay = await startRelay({ cwd: dir });
  open.relays.push(relay);
  const context: EntryContext = {
    pickup: path.join(dir, "data/pickup"),
    outside: tmpDir("mailspool-outside-"),
    maxBytes: 100 * 1024 * 1024 - 1,
    secret: `LEAKED-${Math.random().toString(36).slice(2)}-SECRET`,
    own: `OWN-${Math.random().toString(36).slice(2)}-CONTENT`,
    servers: [],
  };
  open.context = context;
  return { sink, dir, relay, context };
}

async function send(relay: RelayProcess, receiver: string): Promise<string> {
  const answer = await post(relay.url, JSON.stringify({ title: "ops", content: "<p>x</p>", receiver }), {
    "content-type": "application/json",
  });
  expect(answer.status).toBe(200);
  return answer.body.data.id;
}

const stateOf = async (relay: RelayProcess, id: string) => (await get(relay.url, `/api/email/${id}`)).body.data?.state;
const waitForState = (relay: RelayProcess, id: string, state: string) =>
  waitFor(async () => (await stateOf(relay, id)) === state, 10_000, `${id} ${state}`);

function peakRssBytes(relay: RelayProcess): number {
  const status = fs.readFileSync(`/proc/${relay.child.pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const logLines = (relay: RelayProcess, name: string) =>
  relay
    .output()
    .split("\n")
    .filter((l) => l.includes(`"file":${JSON.stringify(name)}`));

async function dropGoodAndWait(sink: SmtpSink, context: EntryContext, subject: string, withinMs: number) {
  await makeEntry(context, `${subject}.json`, "valid", subject);
  await waitFor(
    () => sink.messages.some((m) => m.raw.toString().includes(`Subject: ${subject}`)),
    withinMs,
    `${subject} delivered`,
  );
}

it("refuses every bad entry once with its reason, reads nothing through a link, ingests the good ones", async () => {
  const codes: Record<string, number> = { "hard@example.com": 550, "soft@example.com": 451 };
  const { sink, dir, relay, context } = await setup(codes);
  const rssBefore = peakRssBytes(relay);
  const failedId = await send(relay, "hard@example.com");
  const deferredId = await send(relay, "soft@example.com");
  await waitForState(relay, failedId, "failed");
  await waitForState(relay, deferredId, "deferred");

  const table: [string, EntryKind][] = [
    ["x.json", "fifo"],
    ["zero.json", "symlink-to-dev-zero"],
    ["null.json", "symlink-to-dev-null"],
    ["leak.json", "symlink-to-outside"],
    ["linked-mail.json", "symlink-to-valid"],
    ["big.json", "oversize"],
    ["d.json", "directory"],
    ["sock.json", "socket"],
    ["hard.json", "hard-link"],
    ["broken.json", "invalid-json"],
    ["no-receiver.json", "invalid-fields"],
  ];
  const bad = entryKinds.filter((k) => k !== "valid");
  for (let n = 0; n < 120; n += 1) table.push([`m-${String(n).padStart(3, "0")}.json`, bad[n % bad.length]!]);
  for (const [name, kind] of table) await makeEntry(context, name, kind, `never-${name}`);
  await dropGoodAndWait(sink, context, "z-good-1", 2 * scanMs + 5000);
  await waitFor(() => fs.readdirSync(context.pickup).every((n) => n === "rejected"), 5_000, "every entry handled");
  // two more scans at least, so a bad entry logged on every scan would show
  await dropGoodAndWait(sink, context, "z-good-2", 2 * scanMs + 5000);
  await dropGoodAndWait(sink, context, "z-good-3", 2 * scanMs + 5000);

  const rejected = path.join(context.pickup, "rejected");
  for (const [name, kind] of table) {
    expect(fs.lstatSync(path.join(rejected, name)), name).toBeTruthy();
    const reason = fs.readFileSync(path.join(rejected, `${name}.reason.txt`), "utf8");
    expect(reason, name).toMatch(reasonPattern[kind as Exclude<EntryKind, "valid">]);
    const lines = logLines(relay, name);
    expect(lines, name).toHaveLength(1);
    expect(lines[0]).toContain('"msg":"pickup file rejected"');
  }
  expect(fs.readFileSync(path.join(rejected, "big.json.reason.txt"), "utf8")).toContain("104857600 bytes");
  expect(relay.output()).not.toContain("pickup file not ingested");
  // nothing was read through a link or quoted from a file
  const output = relay.output();
  expect(output).not.toContain(context.secret);
  expect(output).not.toContain(context.own);
  for (const { file, text } of readableFiles(path.join(dir, "data"))) {
    expect(text.includes(context.secret), file).toBe(false);
    if (file.endsWith(".reason.txt")) expect(text.includes(context.own), file).toBe(false);
  }
  expect(sink.messages.filter((m) => m.raw.toString().includes("never-"))).toEqual([]);
  // neither /dev/zero nor the 100 MiB file was read into memory
  expect(peakRssBytes(relay) - rssBefore).toBeLessThan(64 * 1024 * 1024);

  delete codes["hard@example.com"];
  expect(runCli(["replay", failedId, "-c", "app.yaml"], dir).code).toBe(0);
  expect(runCli(["cancel", deferredId, "-c", "app.yaml"], dir).code).toBe(0);
  await waitForState(relay, failedId, "sent");
  await waitForState(relay, deferredId, "cancelled");

  expect(await relay.stop()).toBe(0);
  open.relays.pop();
  expect(relay.output()).toContain('"msg":"shutdown complete"');
  const fsck = runCli(["fsck", "-c", "app.yaml"], dir);
  expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
}, 90_000);

it("an entry that cannot even be moved to rejected/ is left in place and logged once; good files still flow", async () => {
  const { sink, dir, relay, context } = await setup({}, (dir) => {
    fs.mkdirSync(path.join(dir, "data/pickup"), { recursive: true });
    fs.writeFileSync(path.join(dir, "data/pickup/rejected"), "not a directory");
  });
  const table: [string, EntryKind][] = [
    ["d.json", "directory"],
    ["x.json", "fifo"],
    ["broken.json", "invalid-json"],
  ];
  for (const [name, kind] of table) await makeEntry(context, name, kind, `never-${name}`);
  for (const n of [1, 2, 3]) await dropGoodAndWait(sink, context, `good-${n}`, 2 * scanMs + 5000);
  for (const [name] of table) {
    expect(fs.lstatSync(path.join(context.pickup, name)), name).toBeTruthy();
    const lines = logLines(relay, name);
    expect(lines, name).toHaveLength(1);
    expect(lines[0]).toContain("cannot be moved to rejected/");
  }
  expect(sink.messages).toHaveLength(3);
  expect(await relay.stop()).toBe(0);
  open.relays.pop();
  expect(runCli(["fsck", "-c", "app.yaml"], dir).code).toBe(0);
});
