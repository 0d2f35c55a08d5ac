// The read commands on the built binary read the spool through the server's index file
// (spool-reader.ts) and print exactly what folding every segment prints — the same spool
// copied without its index — with the server running, stopped, and killed; with records
// past the index's position; without a word on stderr unless the index could not be used.
// With no server running they change nothing in data/: not a byte, not an mtime.
import { createHash } from "node:crypto";
import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeRecord, recordVersion } from "../../src/spool/record.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { mailShape, pauseDelivery, writeSpool, type MailShape } from "../helpers/spool-states.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const fallbackNote = "reading every segment instead";

/** The read commands, each as an operator would run it, over the mails `ids` of the spool. */
const commands = (ids: string[]): string[][] => [
  ["spool", "ls", "--json"],
  ["spool", "ls", "--json", "--limit", "2"],
  ["spool", "ls", "--json", "--state", "deferred"],
  ["spool", "ls", "--json", "--to", "r1@EXAMPLE.com", "--subject", "MAIL"],
  ["spool", "stat", "--json"],
  ...ids.slice(0, 1).map((id) => ["spool", "show", id]),
  ["spool", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
  ["replay", "--failed", "--dry-run"],
  ["cancel", "--state", "deferred", "--dry-run"],
];

/** What a command printed, less what names the directory or the moment. */
function printed(result: CliResult): { code: number | null; stdout: string; stderr: string } {
  const stdout = result.stdout
    .replace(/"(dataDir|at)": "[^"]*"/g, '"$1": "…"')
    .replace(/"ageSeconds": \d+/g, '"ageSeconds": 0');
  const stderr = result.stderr
    .split("\n")
    .filter((line) => !line.startsWith("mailspool: config ") && !line.includes(fallbackNote))
    .join("\n");
  return { code: result.code, stdout, stderr };
}

/** The spool of `dir` copied into a new directory without the index: what folding every segment prints there. */
function foldedEverything(dir: string, ids: string[]): ReturnType<typeof printed>[] {
  const copy = tmpDir("mailspool-fold-");
  fs.copyFileSync(path.join(dir, "app.yaml"), path.join(copy, "app.yaml"));
  for (const sub of ["spool", "archive", "blobs"])
    if (fs.existsSync(path.join(dir, "data", sub)))
      fs.cpSync(path.join(dir, "data", sub), path.join(copy, "data", sub), { recursive: true });
  return commands(ids).map((args) => {
    const result = runCli(args, copy);
    expect(result.stderr).toContain(`the spool index is missing: ${fallbackNote}`);
    return printed(result);
  });
}

function runAll(dir: string, ids: string[], noted = false): ReturnType<typeof printed>[] {
  return commands(ids).map((args) => {
    const result = runCli(args, dir);
    expect(result.stderr.includes(fallbackNote), `${args.join(" ")}: ${result.stderr}`).toBe(noted);
    return printed(result);
  });
}

/** Every entry under data/: its bytes and mtime. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const stat = fs.statSync(path.join(dir, name));
    const bytes = stat.isFile()
      ? createHash("sha256")
          .update(fs.readFileSync(path.join(dir, name)))
          .digest("hex")
      : "";
    files[name] = `${bytes} ${stat.mtimeMs}`;
  }
  return files;
}

function newSpool(shapes: MailShape[]) {
  const dir = tmpDir("mailspool-cli-index-");
  writeConfig(dir, "spool:\n  dir: ./data\n");
  const ids = writeSpool(dir, shapes);
  pauseDelivery(dir);
  return { dir, ids };
}

/** A record appended to the last live segment, as the server writes one after its last index write. */
function appendRecord(dir: string, record: object): void {
  const spoolDir = path.join(dir, "data", "spool");
  const last = fs.readdirSync(spoolDir).sort().at(-1)!;
  fs.appendFileSync(path.join(spoolDir, last), encodeRecord({ v: recordVersion, ...record } as never));
}

describe("the read commands through the index", () => {
  it("print what folding every segment prints, the server running and stopped (generated spools)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mailShape, { minLength: 1, maxLength: 12 }), async (shapes) => {
        const { dir, ids } = newSpool(shapes);
        const expected = foldedEverything(dir, ids);
        const relay = await startRelay({ cwd: dir });
        try {
          expect(runAll(dir, ids)).toEqual(expected);
        } finally {
          expect(await relay.stop()).toBe(0);
        }
        const before = tree(path.join(dir, "data"));
        expect(runAll(dir, ids)).toEqual(expected);
        expect(tree(path.join(dir, "data"))).toEqual(before);
      }),
      { numRuns: 3 },
    );
  }, 300_000);

  it("show records past the index's position (what the server wrote after its last index write)", async () => {
    const { dir, ids } = newSpool([
      { recipients: [{ address: "r1@example.com", outcome: "deferred" }], stage: "deferred" },
      { recipients: [{ address: "r2@example.com", outcome: "sent" }], stage: "queued" },
    ]);
    await (await startRelay({ cwd: dir })).stop();
    const late = "01KZZZZZZZZZZZZZZZZZZZZZZZ";
    const ts = new Date().toISOString();
    appendRecord(dir, { type: "cancel", id: ids[0], ts, reason: "operator" });
    appendRecord(dir, {
      type: "accepted",
      id: late,
      ts,
      client: "ip:127.0.0.1",
      mail: {
        subject: "late",
        html: "<p>x</p>",
        to: [{ address: "r3@example.com" }],
        cc: [],
        bcc: [],
        attachments: [],
      },
    });
    const before = tree(path.join(dir, "data"));
    const shown = runAll(dir, [late, ids[0]!]);
    expect(shown).toEqual(foldedEverything(dir, [late, ids[0]!]));
    const listed = shown[0]!.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(listed.map((m: { id: string; state: string }) => [m.id, m.state])).toEqual([
      [late, "queued"],
      [ids[1], "queued"],
      [ids[0], "cancelled"],
    ]);
    expect(tree(path.join(dir, "data"))).toEqual(before);
  });

  it("a server killed mid-run leaves its WAL: the commands read every segment, say so, and change nothing", async () => {
    const { dir, ids } = newSpool([
      { recipients: [{ address: "r1@example.com", outcome: "sent" }], stage: "final" },
      { recipients: [{ address: "r2@example.com", outcome: "deferred" }], stage: "deferred" },
    ]);
    const relay = await startRelay({ cwd: dir });
    await relay.kill();
    expect(fs.statSync(path.join(dir, "data", "index.sqlite-wal")).size).toBeGreaterThan(0);
    const before = tree(path.join(dir, "data"));
    const shown = runAll(dir, ids, true);
    expect(shown).toEqual(foldedEverything(dir, ids));
    expect(tree(path.join(dir, "data"))).toEqual(before);
    const note = runCli(["spool", "ls"], dir).stderr;
    expect(note).toContain("the spool index has changes in its WAL that a server which did not stop cleanly left");
    expect(note.split(fallbackNote)).toHaveLength(2);
  });
});
