import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { createLogger } from "../log.js";
import type { Mail } from "../types.js";
import { LockHeldError } from "./lock.js";
import { decodeRecord, type SpoolRecord } from "./record.js";
import { NewerSpoolVersionError, recoverSegments, type RecoveryResult } from "./recover.js";
import type { Location } from "./segment.js";
import { Spool } from "./spool.js";

const log = createLogger("silent");
const fixtures = path.resolve(import.meta.dirname, "../../test/fixtures/spool");
const M1 = "01JHB4Y2Q7N9W3R5T8K6M1C0A1";
const M2 = "01JHB4Y3D2F6H8J0K4M7P9R2B2";
const M3 = "01JHB4Y4X5Z7B9D1F3H6K8N0C3";

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-recover-"));
});
afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const spoolDir = () => path.join(dataDir, "spool");
const corruptDir = () => path.join(dataDir, "corrupt");
const segment1 = () => path.join(spoolDir(), "000001.jsonl");

/** Copies test/fixtures/spool/<name>/spool into the temp data directory; returns the segment's original bytes. */
function useFixture(name: string): Buffer {
  fs.cpSync(path.join(fixtures, name, "spool"), spoolDir(), { recursive: true });
  fs.mkdirSync(corruptDir(), { recursive: true });
  return fs.readFileSync(segment1());
}

function recover(repair: boolean): { result: RecoveryResult; seen: { record: SpoolRecord; location: Location }[] } {
  const seen: { record: SpoolRecord; location: Location }[] = [];
  const result = recoverSegments({
    spoolDir: spoolDir(),
    corruptDir: corruptDir(),
    repair,
    log,
    onRecord: (record, location) => seen.push({ record, location }),
  });
  return { result, seen };
}

/** Line start offsets of every newline-terminated line. */
function lineOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length;) {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) break;
    offsets.push(at);
    at = end + 1;
  }
  return offsets;
}

describe("the fixtures themselves", () => {
  it("are real segment files of the documented shape", () => {
    const normal = fs.readFileSync(path.join(fixtures, "normal/spool/000001.jsonl"));
    const lines = normal.toString("utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => decodeRecord(l).ok)).toEqual([true, true, true, true, true, true]);
    expect(normal.toString("utf8")).toContain("Monthly report 报告 résumé");

    const torn = fs.readFileSync(path.join(fixtures, "torn-tail/spool/000001.jsonl"));
    expect(torn.at(-1)).not.toBe(0x0a);
    expect(lineOffsets(torn)).toHaveLength(3);
    expect(normal.subarray(0, torn.lastIndexOf(0x0a) + 1).equals(torn.subarray(0, torn.lastIndexOf(0x0a) + 1))).toBe(
      true,
    );

    const corrupt = fs
      .readFileSync(path.join(fixtures, "corrupt-middle/spool/000001.jsonl"))
      .toString("utf8")
      .split("\n");
    expect(corrupt.slice(0, -1).map((l) => decodeRecord(l))).toMatchObject([
      { ok: true },
      { ok: false, reason: "checksum" },
      { ok: true },
      { ok: true },
      { ok: true },
    ]);

    const newer = fs.readFileSync(path.join(fixtures, "newer-version/spool/000001.jsonl")).toString("utf8").split("\n");
    expect(newer.slice(0, -1).map((l) => decodeRecord(l))).toMatchObject([
      { ok: true },
      { ok: false, reason: "version" },
      { ok: true },
    ]);
  });
});

describe("recoverSegments", () => {
  it("reads a normal segment in order, with exact locations, and changes nothing", () => {
    const original = useFixture("normal");
    const { result, seen } = recover(true);
    expect(result).toEqual({ lastSegment: 1, lastSize: original.length, records: 6, tornTails: 0, corruptLines: 0 });
    expect(seen.map((s) => [s.record.type, s.record.id])).toEqual([
      ["accepted", M1],
      ["outcome", M1],
      ["attempt", M1],
      ["accepted", M2],
      ["outcome", M2],
      ["attempt", M2],
    ]);
    for (const { record, location } of seen) {
      expect(location.segment).toBe(1);
      const bytes = original.subarray(location.offset, location.offset + location.length);
      expect(bytes.at(-1)).toBe(0x0a);
      expect(decodeRecord(bytes.toString("utf8", 0, bytes.length - 1))).toEqual({ ok: true, record });
    }
    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    expect(fs.readdirSync(corruptDir())).toEqual([]);
  });

  it("repair=true truncates a torn tail to the last newline and keeps the torn bytes in corrupt/", () => {
    const original = useFixture("torn-tail");
    const goodSize = original.lastIndexOf(0x0a) + 1;
    expect(goodSize).toBeLessThan(original.length);

    const { result, seen } = recover(true);
    expect(result).toEqual({ lastSegment: 1, lastSize: goodSize, records: 3, tornTails: 1, corruptLines: 0 });
    expect(seen.map((s) => s.record.id)).toEqual([M1, M1, M1]);

    expect(fs.statSync(segment1()).size).toBe(goodSize);
    expect(fs.readFileSync(segment1()).equals(original.subarray(0, goodSize))).toBe(true);
    const quarantined = fs.readdirSync(corruptDir()).filter((name) => !name.endsWith(".reason.txt"));
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toContain("000001");
    expect(quarantined[0]).toContain(String(goodSize));
    expect(fs.readFileSync(path.join(corruptDir(), quarantined[0]!)).equals(original.subarray(goodSize))).toBe(true);

    // A second recovery finds a clean segment.
    expect(recover(true).result).toEqual({
      lastSegment: 1,
      lastSize: goodSize,
      records: 3,
      tornTails: 0,
      corruptLines: 0,
    });
  });

  it("repair=false skips a torn tail but leaves the file and corrupt/ untouched", () => {
    const original = useFixture("torn-tail");
    const goodSize = original.lastIndexOf(0x0a) + 1;
    const { result, seen } = recover(false);
    expect(result).toEqual({ lastSegment: 1, lastSize: goodSize, records: 3, tornTails: 1, corruptLines: 0 });
    expect(seen).toHaveLength(3);
    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    expect(fs.readdirSync(corruptDir())).toEqual([]);
  });

  it("copies a corrupt middle line to corrupt/ with its segment and offset, and reads the lines after it", () => {
    const original = useFixture("corrupt-middle");
    const offsets = lineOffsets(original);
    const badOffset = offsets[1]!;
    const badLine = original.subarray(badOffset, offsets[2]);

    const { result, seen } = recover(true);
    expect(result).toEqual({ lastSegment: 1, lastSize: original.length, records: 4, tornTails: 0, corruptLines: 1 });
    expect(seen.map((s) => [s.record.type, s.record.id, s.location.offset])).toEqual([
      ["accepted", M1, offsets[0]],
      ["accepted", M3, offsets[2]],
      ["outcome", M1, offsets[3]],
      ["attempt", M1, offsets[4]],
    ]);

    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    const quarantined = fs.readdirSync(corruptDir()).filter((name) => !name.endsWith(".reason.txt"));
    expect(quarantined).toHaveLength(1);
    const name = quarantined[0]!;
    expect(name).toContain("000001");
    expect(name).toContain(String(badOffset));
    expect(fs.readFileSync(path.join(corruptDir(), name)).equals(badLine)).toBe(true);
    expect(fs.readFileSync(path.join(corruptDir(), `${name}.reason.txt`), "utf8")).toMatch(/crc/);
  });

  it("repair=false skips a corrupt middle line without writing to corrupt/", () => {
    const original = useFixture("corrupt-middle");
    const { result, seen } = recover(false);
    expect(result.corruptLines).toBe(1);
    expect(seen.map((s) => s.record.id)).toEqual([M1, M3, M1, M1]);
    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    expect(fs.readdirSync(corruptDir())).toEqual([]);
  });

  it("throws NewerSpoolVersionError on a record from a newer mailspool and changes nothing", () => {
    const original = useFixture("newer-version");
    const offsets = lineOffsets(original);
    let error: unknown;
    try {
      recover(true);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NewerSpoolVersionError);
    expect((error as Error).message).toContain(`offset ${offsets[1]}`);
    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    expect(fs.readdirSync(corruptDir())).toEqual([]);
  });

  it("reads every segment and reports the last one", () => {
    useFixture("normal");
    const second = fs.readFileSync(path.join(fixtures, "torn-tail/spool/000001.jsonl"));
    fs.writeFileSync(path.join(spoolDir(), "000002.jsonl"), second);
    const { result, seen } = recover(true);
    const goodSize = second.lastIndexOf(0x0a) + 1;
    expect(result).toEqual({ lastSegment: 2, lastSize: goodSize, records: 9, tornTails: 1, corruptLines: 0 });
    expect(seen.slice(6).every((s) => s.location.segment === 2)).toBe(true);
    expect(fs.statSync(path.join(spoolDir(), "000002.jsonl")).size).toBe(goodSize);
  });
});

function sampleMail(subject: string): Mail {
  return {
    subject,
    html: `<p>${subject}</p>`,
    to: [{ address: "alice@example.com", name: "Alice" }],
    cc: [{ address: "bob@example.com" }],
    bcc: [],
    attachments: [],
    messageId: "<m@example.com>",
  };
}

describe("Spool.open", () => {
  const open = () => Spool.open({ dataDir, log, minFreeBytes: -1 });

  it("accepts a mail that a reopened spool still knows, and reads its accepted record back", async () => {
    const mail = sampleMail("报告 résumé");
    const first = open();
    await first.accept("01JTEST00000000000000000001", mail, "10.0.0.7");
    await first.close();
    expect(fs.existsSync(path.join(dataDir, "lock"))).toBe(false);

    const reopened = open();
    try {
      const entry = reopened.index.get("01JTEST00000000000000000001");
      expect(entry).toMatchObject({
        state: "queued",
        client: "10.0.0.7",
        subject: "报告 résumé",
        location: { segment: 1, offset: 0 },
      });
      expect(entry?.recipients.map((r) => [r.address, r.kind, r.state])).toEqual([
        ["alice@example.com", "to", "pending"],
        ["bob@example.com", "cc", "pending"],
      ]);
      const record = await reopened.readAccepted("01JTEST00000000000000000001");
      expect(record).toMatchObject({
        v: 1,
        type: "accepted",
        id: "01JTEST00000000000000000001",
        client: "10.0.0.7",
        mail,
      });
      expect(Date.parse(record.ts)).not.toBeNaN();
      expect(fs.statSync(segment1()).size).toBe(entry!.location.length);
    } finally {
      await reopened.close();
    }
  });

  it("readAccepted of an unknown id is a 404", async () => {
    const spool = open();
    try {
      await expect(spool.readAccepted("nope")).rejects.toMatchObject({ code: "not_found", status: 404 });
    } finally {
      await spool.close();
    }
  });

  it("answers 507 and writes nothing when the disk is below the reserve", async () => {
    const spool = Spool.open({ dataDir, log, minFreeBytes: Number.MAX_SAFE_INTEGER });
    try {
      const failure = spool.accept("01JTEST00000000000000000002", sampleMail("x"), "127.0.0.1");
      await expect(failure).rejects.toBeInstanceOf(MailspoolError);
      await expect(failure).rejects.toMatchObject({ code: "insufficient_storage", status: 507 });
      expect(spool.index.size).toBe(0);
      expect(fs.existsSync(segment1()) ? fs.statSync(segment1()).size : 0).toBe(0);
    } finally {
      await spool.close();
    }
  });

  it("repairs a torn tail at open and appends right after the last good line", async () => {
    const original = useFixture("torn-tail");
    const goodSize = original.lastIndexOf(0x0a) + 1;
    const spool = open();
    try {
      expect(spool.recovery).toMatchObject({ tornTails: 1, lastSize: goodSize, records: 3 });
      expect(spool.index.get(M1)?.state).toBe("sent");
      expect(spool.index.get(M2)).toBeUndefined();
      await spool.accept("01JTEST00000000000000000003", sampleMail("after the tear"), "127.0.0.1");
      expect(spool.index.get("01JTEST00000000000000000003")?.location).toMatchObject({ segment: 1, offset: goodSize });
    } finally {
      await spool.close();
    }
    const lines = fs.readFileSync(segment1(), "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => decodeRecord(l).ok)).toEqual([true, true, true, true]);
  });

  it("Spool.read skips a torn tail without repairing it", () => {
    const original = useFixture("torn-tail");
    const reader = Spool.read({ dataDir, log });
    expect(reader.recovery).toMatchObject({ tornTails: 1, records: 3 });
    expect(fs.readFileSync(segment1()).equals(original)).toBe(true);
    expect(fs.readdirSync(corruptDir())).toEqual([]);
  });

  it("refuses a spool from a newer mailspool and releases the lock", () => {
    useFixture("newer-version");
    expect(() => open()).toThrow(NewerSpoolVersionError);
    expect(fs.existsSync(path.join(dataDir, "lock"))).toBe(false);
  });

  it("throws LockHeldError while another process has the spool open", async () => {
    const script = path.join(dataDir, "hold-lock.mjs");
    fs.writeFileSync(
      script,
      `const { Spool } = await import(${JSON.stringify(new URL("./spool.ts", import.meta.url).href)});
const { createLogger } = await import(${JSON.stringify(new URL("../log.ts", import.meta.url).href)});
const spool = Spool.open({ dataDir: ${JSON.stringify(dataDir)}, log: createLogger("silent"), minFreeBytes: -1 });
process.on("SIGTERM", async () => { await spool.close(); process.exit(0); });
process.stdout.write("ready\\n");
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
        child.on("exit", (code) => reject(new Error(`lock holder exited early with ${code}`)));
      });
      expect(fs.readFileSync(path.join(dataDir, "lock"), "utf8").trim()).toBe(String(child.pid));
      expect(() => open()).toThrow(LockHeldError);
      expect(fs.readFileSync(path.join(dataDir, "lock"), "utf8").trim()).toBe(String(child.pid));
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    // Once the holder is gone the directory can be opened again.
    const spool = open();
    await spool.close();
  });

  // Our own pid in the lock means a stale lock (container restart) only when this process
  // does not hold it already: two writers on one segment would overwrite acknowledged mail.
  it("throws LockHeldError for a second Spool.open in the same process", async () => {
    const first = open();
    let second: Spool | undefined;
    try {
      expect(() => {
        second = open();
      }).toThrow(LockHeldError);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});
