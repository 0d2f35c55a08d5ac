// mailspool fsck on real data directories: one written by the real relay (attachments as
// blobs), then damaged — a flipped byte, a torn tail, a missing, a truncated and an altered
// blob, a stray blob, temp files — and one written by hand (archive/, orphans, a newer v).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { encodeRecord, type SpoolRecord } from "../../src/spool/record.js";
import { runCli } from "../helpers/cli.js";
import { sendAndWaitForEml, startRelay, writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

const sha = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; file: string; offset?: number; severity: string });
const found = (text: string) =>
  jsonLines(text)
    .map((p) => `${p.kind} ${p.file}${p.offset === undefined ? "" : `@${p.offset}`}`)
    .sort();

it("finds each kind of damage, refuses --repair while serving, repairs without losing an acknowledged mail", async () => {
  const dir = tmpDir();
  writeConfig(dir, ["spool:", "  inlineMaxBytes: 0"].join("\n"));
  const data = path.join(dir, "data");
  const files = [0, 1, 2, 3].map((n) => Buffer.alloc(700 + n, 0x41 + n));
  const relay = await startRelay({ cwd: dir });
  const ids: string[] = [];
  const stray = path.join(data, "blobs", sha("stray"));
  try {
    for (const [n, bytes] of files.entries())
      ids.push(
        await sendAndWaitForEml(relay.url, dir, {
          title: `mail ${n}`,
          attachment: [{ filename: "f.bin", content: bytes.toString("base64") }],
        }),
      );
    for (const bytes of files) expect(fs.existsSync(path.join(data, "blobs", sha(bytes)))).toBe(true);
    const clean = runCli(["fsck"], dir);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toBe("");
    expect(clean.stderr).toContain("data directory");

    fs.writeFileSync(path.join(data, "blobs/.tmp-x"), "half an upload");
    fs.writeFileSync(stray, "stray");
    const refused = runCli(["fsck", "--repair"], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--repair refused: a mailspool server \(pid \d+\) holds/);
    expect(fs.existsSync(path.join(data, "blobs/.tmp-x"))).toBe(true);
    expect(fs.existsSync(stray)).toBe(true);
  } finally {
    expect(await relay.stop()).toBe(0);
  }

  // damage the stopped directory
  const segment = path.join(data, "spool/000001.jsonl");
  const original = fs.readFileSync(segment, "utf8");
  const lines = original.split("\n").slice(0, -1);
  const accepted = lines.filter((l) => l.includes('"type":"accepted"'));
  expect(accepted).toHaveLength(4);
  const target = lines.findIndex((l) => l.includes(`"id":"${ids[1]}"`) && l.includes('"type":"outcome"'));
  expect(target).toBeGreaterThan(0);
  expect(target).toBeLessThan(lines.length - 1);
  const flippedOffset = Buffer.byteLength(
    lines
      .slice(0, target)
      .map((l) => `${l}\n`)
      .join(""),
  );
  const flipped = lines[target]!.replace("written", "wrItten");
  expect(flipped).not.toBe(lines[target]);
  const torn = '{"v":1,"type":"accepted","id":"torn';
  const tornOffset = Buffer.byteLength(original);
  fs.writeFileSync(segment, lines.map((l, i) => `${i === target ? flipped : l}\n`).join("") + torn);
  const blob = (n: number) => path.join(data, "blobs", sha(files[n]!));
  fs.rmSync(blob(0));
  fs.truncateSync(blob(2), 100);
  const altered = Buffer.from(files[3]!);
  altered[10] = 0x7a;
  fs.writeFileSync(blob(3), altered);
  fs.writeFileSync(path.join(data, "outbox/x.eml.tmp"), "half a message");

  const expected = [
    `corrupt-line spool/000001.jsonl@${flippedOffset}`,
    `unterminated-line spool/000001.jsonl@${tornOffset}`,
    `missing-blob blobs/${sha(files[0]!)}`,
    `blob-size blobs/${sha(files[2]!)}`,
    `blob-sha256 blobs/${sha(files[3]!)}`,
    `orphan-blob blobs/${sha("stray")}`,
    "temp-file blobs/.tmp-x",
    "temp-file outbox/x.eml.tmp",
    "index-mismatch index.sqlite",
  ].sort();
  const text = runCli(["fsck"], dir);
  expect(text.code).toBe(1);
  const textLines = text.stdout.trim().split("\n");
  expect(textLines).toHaveLength(expected.length);
  for (const problem of expected) {
    const [kind, where] = problem.split(" ");
    expect(
      textLines.some((l) => l.startsWith(`${kind} ${where}: `)),
      problem,
    ).toBe(true);
  }
  expect(text.stderr).toContain("9 problem(s)");
  const json = runCli(["fsck", "--json"], dir);
  expect(json.code).toBe(1);
  expect(found(json.stdout)).toEqual(expected);

  const repair = runCli(["fsck", "--repair"], dir);
  expect(repair.code, repair.stdout + repair.stderr).toBe(1);
  expect(repair.stdout).toContain(
    `repaired corrupt-line spool/000001.jsonl@${flippedOffset}: quarantined to corrupt/000001.jsonl@${flippedOffset}`,
  );
  expect(repair.stdout).toContain(`repaired orphan-blob blobs/${sha("stray")}: moved to corrupt/blobs/${sha("stray")}`);
  expect(fs.readFileSync(path.join(data, `corrupt/000001.jsonl@${flippedOffset}`), "utf8")).toBe(`${flipped}\n`);
  expect(fs.readFileSync(path.join(data, `corrupt/000001.jsonl@${flippedOffset}.reason.txt`), "utf8")).toContain(
    "crc mismatch",
  );
  expect(fs.readFileSync(path.join(data, `corrupt/000001.jsonl@${tornOffset}`), "utf8")).toBe(torn);
  // every line but the damaged one is still there, byte for byte, including all four accepted records
  const repaired = fs.readFileSync(segment, "utf8");
  expect(repaired).toBe(
    lines
      .filter((_, i) => i !== target)
      .map((l) => `${l}\n`)
      .join(""),
  );
  for (const line of accepted) expect(repaired).toContain(`${line}\n`);
  expect(fs.existsSync(path.join(data, "blobs/.tmp-x"))).toBe(false);
  expect(fs.existsSync(path.join(data, "outbox/x.eml.tmp"))).toBe(false);
  expect(fs.existsSync(stray)).toBe(false);
  expect(fs.readFileSync(path.join(data, "corrupt/blobs", sha("stray")), "utf8")).toBe("stray");
  expect(fs.statSync(blob(2)).size).toBe(100); // a referenced blob is never touched, even a damaged one
  expect(fs.readFileSync(blob(3))).toEqual(altered);
  const remaining = [
    `missing-blob blobs/${sha(files[0]!)}`,
    `blob-size blobs/${sha(files[2]!)}`,
    `blob-sha256 blobs/${sha(files[3]!)}`,
  ].sort();
  const after = runCli(["fsck", "--json"], dir);
  expect(after.code).toBe(1);
  expect(found(after.stdout)).toEqual(remaining);

  // the operator restores the blobs from a backup: clean, and every mail is still there
  for (const n of [0, 2, 3]) fs.writeFileSync(blob(n), files[n]!);
  const restored = runCli(["fsck"], dir);
  expect(restored.code, restored.stdout + restored.stderr).toBe(0);
  expect(restored.stdout).toBe("");
  const listed = jsonLines(runCli(["spool", "ls", "--json"], dir).stdout) as unknown as { id: string; state: string }[];
  expect(listed.map((m) => m.id).sort()).toEqual([...ids].sort());
  expect(listed.every((m) => m.state === "sent")).toBe(true);
});

it("reads archive/ for orphans, keeps a newer version's line and the blobs it names, and warns about orphan records", () => {
  const dir = tmpDir();
  writeConfig(dir, ["spool:", "  dir: ./elsewhere"].join("\n"));
  const data = path.join(dir, "elsewhere");
  for (const sub of ["spool", "archive", "blobs"]) fs.mkdirSync(path.join(data, sub), { recursive: true });
  const ts = "2026-01-02T03:04:05.000Z";
  const mail = (attachments: unknown[]) => ({
    subject: "s",
    html: "<p>h</p>",
    to: [{ address: "a@example.com" }],
    cc: [],
    bcc: [],
    attachments,
    messageId: "<m@localhost>",
  });
  const archivedSha = sha("archived bytes");
  const newerSha = sha("newer bytes");
  const line = (record: object) => encodeRecord(record as SpoolRecord);
  const archivedMail = "01JARCHIVED000000000000000";
  const archivedLine = line({
    v: 1,
    type: "accepted",
    id: archivedMail,
    ts,
    client: "ip:127.0.0.1",
    mail: mail([
      { filename: "a.bin", contentType: "application/octet-stream", size: 14, sha256: archivedSha, archived: true },
    ]),
  });
  const damagedSha = sha("damaged mail's bytes");
  const damaged = line({
    v: 1,
    type: "accepted",
    id: "01JDAMAGED0000000000000000",
    ts,
    client: "ip:127.0.0.1",
    mail: mail([{ filename: "d.bin", contentType: "application/octet-stream", size: 20, sha256: damagedSha }]),
  }).replace('"subject":"s"', '"subject":"S"');
  const archive = path.join(data, "archive/000001.jsonl");
  fs.writeFileSync(archive, archivedLine + damaged);
  const damagedAt = Buffer.byteLength(archivedLine);
  const newer = line({ v: 2, type: "accepted", id: "01JNEWER000000000000000000", ts, future: { blob: newerSha } });
  const orphanAt = Buffer.byteLength(line({ v: 1, type: "attempt", id: archivedMail, ts, attempt: 1, state: "sent" }));
  const live = [
    line({ v: 1, type: "attempt", id: archivedMail, ts, attempt: 1, state: "sent" }),
    line({ v: 1, type: "cancel", id: "01JNOBODY00000000000000000", ts, reason: "r" }),
    newer,
  ];
  const segment = path.join(data, "spool/000002.jsonl");
  fs.writeFileSync(segment, live.join(""));
  fs.writeFileSync(path.join(data, "blobs", archivedSha), "archived bytes");
  fs.writeFileSync(path.join(data, "blobs", newerSha), "newer bytes");
  fs.writeFileSync(path.join(data, "blobs", damagedSha), "damaged mail's bytes");

  const check = runCli(["fsck", "-c", "app.yaml", "--json"], dir);
  expect(check.code).toBe(1);
  expect(check.stderr).toContain(`data directory ${fs.realpathSync(data)}`);
  expect(found(check.stdout)).toEqual(
    [
      `corrupt-line archive/000001.jsonl@${damagedAt}`,
      `newer-version spool/000002.jsonl@${orphanAt + Buffer.byteLength(live[1]!)}`,
      `orphan-blob blobs/${archivedSha}`,
      `orphan-blob blobs/${damagedSha}`,
      `orphan-record spool/000002.jsonl@${orphanAt}`,
    ].sort(),
  );
  expect(jsonLines(check.stdout).find((p) => p.kind === "orphan-record")?.severity).toBe("warning");
  expect(check.stdout).toContain(`(the damaged line archive/000001.jsonl@${damagedAt} names it)`);

  const repair = runCli(["fsck", "-c", "app.yaml", "--repair"], dir);
  expect(repair.code).toBe(1); // the newer line is not this version's to judge: it stays
  expect(fs.readFileSync(segment, "utf8")).toBe(live.join(""));
  expect(fs.existsSync(path.join(data, "blobs", newerSha))).toBe(true);
  expect(fs.existsSync(path.join(data, "corrupt/blobs", archivedSha))).toBe(true);
  expect(fs.existsSync(path.join(data, "corrupt/blobs", damagedSha))).toBe(true);
  expect(fs.readFileSync(archive, "utf8")).toBe(archivedLine);
  expect(fs.readFileSync(path.join(data, `corrupt/archive-000001.jsonl@${damagedAt}`), "utf8")).toBe(damaged);

  // without the newer line (and its blob), only the warning is left: exit 0
  fs.writeFileSync(segment, live.slice(0, 2).join(""));
  fs.rmSync(path.join(data, "blobs", newerSha));
  const warned = runCli(["fsck", "-c", "app.yaml"], dir);
  expect(warned.code, warned.stdout + warned.stderr).toBe(0);
  expect(warned.stdout.trim()).toBe(
    `warning: orphan-record spool/000002.jsonl@${orphanAt}: cancel record of mail 01JNOBODY00000000000000000, which has no accepted record in spool/ or archive/`,
  );
});
