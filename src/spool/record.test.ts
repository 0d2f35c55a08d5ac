import CRC32C from "crc-32/crc32c";
import { describe, expect, it } from "vitest";
import { decodeRecord, encodeRecord, recordVersion, type AcceptedRecord, type SpoolRecord } from "./record.js";

const accepted: AcceptedRecord = {
  v: 1,
  type: "accepted",
  id: "01JHB4Y2Q7N9W3R5T8K6M1C0A1",
  ts: "2025-01-15T09:30:00.000Z",
  client: "10.0.0.7",
  mail: {
    subject: "报告 résumé 📮",
    html: '<p>报告 résumé</p>\n<p>second line, a quote " and a marker ,"crc":"00000000"</p>',
    text: "报告 résumé",
    fromName: "Zoë",
    to: [{ address: "alice@example.com", name: "Alice Ünal" }],
    cc: [],
    bcc: [{ address: "audit@example.com" }],
    attachments: [
      { filename: "résumé.pdf", contentType: "application/pdf", size: 3, sha256: "a".repeat(64), inline: "AAEC" },
    ],
    messageId: "<01JHB4Y2Q7N9W3R5T8K6M1C0A1@example.com>",
  },
};

/** CRC-32C (hex) of the UTF-8 bytes, computed from a Buffer rather than the JS string. */
function crc32cHexOfBytes(bytes: Buffer): string {
  return (CRC32C.buf(bytes) >>> 0).toString(16).padStart(8, "0");
}

const withoutNewline = (line: string) => line.slice(0, -1);

describe("encodeRecord", () => {
  it("writes one line ending in a single newline, even when content holds newlines", () => {
    const line = encodeRecord(accepted);
    expect(line.endsWith("\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1);
  });

  it("puts crc last, as 8 lowercase hex digits", () => {
    const line = withoutNewline(encodeRecord(accepted));
    expect(line).toMatch(/,"crc":"[0-9a-f]{8}"\}$/);
    const keys = Object.keys(JSON.parse(line) as object);
    expect(keys.at(-1)).toBe("crc");
    expect(keys.slice(0, 4)).toEqual(["v", "type", "id", "ts"]);
  });

  it("keeps the record's own JSON before the crc field", () => {
    const line = withoutNewline(encodeRecord(accepted));
    const body = line.slice(0, line.lastIndexOf(',"crc"'));
    expect(body).toBe(JSON.stringify(accepted).slice(0, -1));
  });

  it("uses the Castagnoli polynomial (check value of '123456789' is e3069283)", () => {
    expect(crc32cHexOfBytes(Buffer.from("123456789", "ascii"))).toBe("e3069283");
  });

  it('checksums the UTF-8 bytes before ,"crc"', () => {
    const line = withoutNewline(encodeRecord(accepted));
    const bytes = Buffer.from(line, "utf8");
    const marker = bytes.lastIndexOf(Buffer.from(',"crc"'));
    const stored = line.slice(-10, -2);
    expect(crc32cHexOfBytes(bytes.subarray(0, marker))).toBe(stored);
    // The multi-byte characters really are in the checksummed bytes.
    expect(bytes.subarray(0, marker).includes(Buffer.from("报告 résumé 📮", "utf8"))).toBe(true);
  });
});

describe("decodeRecord", () => {
  it("round-trips a record with UTF-8 content", () => {
    const decoded = decodeRecord(withoutNewline(encodeRecord(accepted)));
    expect(decoded).toEqual({ ok: true, record: accepted });
    if (!decoded.ok) throw new Error("unreachable");
    expect(decoded.record).not.toHaveProperty("crc");
    expect(decoded.record.type === "accepted" && decoded.record.mail.subject).toBe("报告 résumé 📮");
  });

  it("round-trips outcome and attempt records", () => {
    const records: SpoolRecord[] = [
      {
        v: 1,
        type: "outcome",
        id: "m1",
        ts: "2025-01-15T09:30:01.000Z",
        attempt: 2,
        transaction: {
          upstream: "primary",
          envelope: { from: "a@example.com", to: ["b@example.com"] },
          code: 451,
          response: "4.7.1 réessayez",
        },
        recipients: [{ address: "b@example.com", state: "deferred" }],
      },
      {
        v: 1,
        type: "attempt",
        id: "m1",
        ts: "2025-01-15T09:30:02.000Z",
        attempt: 2,
        state: "deferred",
        nextAttemptAt: "2025-01-15T09:31:02.000Z",
        error: "timeout",
      },
    ];
    for (const record of records)
      expect(decodeRecord(withoutNewline(encodeRecord(record)))).toEqual({ ok: true, record });
  });

  it("reports a checksum failure for any single flipped byte", () => {
    const bytes = Buffer.from(withoutNewline(encodeRecord(accepted)), "utf8");
    const reasons = new Set<string>();
    for (let i = 0; i < bytes.length; i += 1) {
      const damaged = Buffer.from(bytes);
      damaged[i] = damaged[i]! ^ 0x01;
      const decoded = decodeRecord(damaged.toString("utf8"));
      expect(decoded.ok, `byte ${i} flipped`).toBe(false);
      if (!decoded.ok) reasons.add(decoded.reason);
    }
    expect([...reasons]).toEqual(["checksum"]);
  });

  it("reports a checksum mismatch for a changed character", () => {
    const line = withoutNewline(encodeRecord(accepted)).replace("alice@example.com", "alicf@example.com");
    expect(decodeRecord(line)).toEqual({ ok: false, reason: "checksum", detail: "crc mismatch" });
  });

  it("refuses a line without a crc field", () => {
    const decoded = decodeRecord(JSON.stringify(accepted));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe("checksum");
      expect(decoded.detail).toMatch(/no crc/);
    }
  });

  it("refuses a crc that is not the last field", () => {
    const line = withoutNewline(encodeRecord(accepted));
    const crc = line.slice(-10, -2);
    const reordered = `{"crc":"${crc}",${JSON.stringify(accepted).slice(1)}`;
    expect(decodeRecord(reordered)).toMatchObject({ ok: false, reason: "checksum" });
  });

  it("refuses a crc of the wrong length", () => {
    const line = withoutNewline(encodeRecord(accepted));
    const crc = line.slice(-10, -2);
    expect(decodeRecord(`${line.slice(0, -10)}${crc.slice(1)}"}`)).toMatchObject({ ok: false, reason: "checksum" });
    expect(decodeRecord(`${line.slice(0, -10)}0${crc}"}`)).toMatchObject({ ok: false, reason: "checksum" });
  });

  it("refuses a torn line (any proper prefix)", () => {
    const line = withoutNewline(encodeRecord(accepted));
    for (const cut of [1, 10, line.length / 2, line.length - 3, line.length - 1]) {
      expect(decodeRecord(line.slice(0, Math.floor(cut)))).toMatchObject({ ok: false, reason: "checksum" });
    }
  });

  it("refuses a newer record version with reason 'version'", () => {
    const decoded = decodeRecord(withoutNewline(encodeRecord({ ...accepted, v: recordVersion + 1 })));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe("version");
      expect(decoded.detail).toContain(String(recordVersion + 1));
    }
  });

  // A newer record may have a shape this version does not know: it must be refused as
  // newer, never quarantined as corrupt.
  it("reports a newer version even when the newer record's shape differs", () => {
    const { ts: _ts, ...rest } = accepted;
    const newer = { ...rest, v: recordVersion + 1, ts: 1736933400000 };
    expect(decodeRecord(withoutNewline(encodeRecord(newer as unknown as SpoolRecord)))).toMatchObject({
      ok: false,
      reason: "version",
    });
  });

  it("accepts the current version", () => {
    expect(decodeRecord(withoutNewline(encodeRecord({ ...accepted, v: recordVersion })))).toMatchObject({ ok: true });
  });

  it("refuses a well-checksummed record of the wrong shape", () => {
    const { ts: _ts, ...noTs } = accepted;
    const shapes = [noTs, { ...accepted, id: 42 }, { ...accepted, v: "1" }, { ...accepted, type: null }];
    for (const shape of shapes) {
      expect(decodeRecord(withoutNewline(encodeRecord(shape as unknown as SpoolRecord)))).toMatchObject({
        ok: false,
        reason: "shape",
      });
    }
  });

  it("reports a syntax error for a checksummed line that is not JSON", () => {
    const body = '{"v":1,"type":';
    const crc = crc32cHexOfBytes(Buffer.from(body, "utf8"));
    expect(decodeRecord(`${body},"crc":"${crc}"}`)).toMatchObject({ ok: false, reason: "syntax" });
  });

  it("never throws on garbage", () => {
    for (const line of ["", "\u0000", "{}", "null", '"}', ',"crc":"00000000"}', "\ud800", "x".repeat(10_000)]) {
      expect(() => decodeRecord(line)).not.toThrow();
      expect(decodeRecord(line).ok).toBe(false);
    }
  });
});
