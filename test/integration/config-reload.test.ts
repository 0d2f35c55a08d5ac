// SIGHUP on the real binary validates like check-config: an invalid croner pattern or a TLS
// file that no longer reads is refused, logged with its key, and the old config stays
// whole (here: the old token keeps working, the new one is not taken).
import fs from "node:fs";
import https from "node:https";
import { describe, expect, it } from "vitest";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";
import { makeCertificate } from "../helpers/tls-files.js";

const body = new URLSearchParams({ title: "t", content: "<p>c</p>", receiver: "a@example.com" }).toString();

/** POST /api/email/send with a bearer token; resolves with the status (the CA trusts the test certificate). */
function send(url: string, token: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${url}/api/email/send`,
      {
        method: "POST",
        ca,
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${token}` },
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const sendPlain = async (url: string, token: string) =>
  (
    await fetch(`${url}/api/email/send`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${token}` },
    })
  ).status;

const first = "first-token-0123456789";
const second = "second-token-0123456789";
const tokens = (token: string) => `server:\n  tokens:\n    - { name: app, token: "${token}" }\n`;

async function refused(relay: RelayProcess, key: string): Promise<void> {
  const before = relay.output().split("new config refused").length;
  relay.child.kill("SIGHUP");
  await waitFor(() => relay.output().split("new config refused").length > before, 5_000, "the refusal");
  const line = relay
    .output()
    .split("\n")
    .filter((l) => l.includes("new config refused"))
    .pop();
  expect(line).toContain(key);
}

describe("SIGHUP", () => {
  it("refuses an invalid failed.rescan and keeps the old config", async () => {
    const dir = tmpDir();
    writeConfig(dir, tokens(first));
    const relay = await startRelay({ cwd: dir });
    try {
      expect(await sendPlain(relay.url, first)).toBe(200);
      writeConfig(dir, `${tokens(second)}failed:\n  rescan: "every hour"\n`);
      await refused(relay, "failed.rescan: not a croner pattern");
      expect(await sendPlain(relay.url, first)).toBe(200);
      expect(await sendPlain(relay.url, second)).toBe(401);
      writeConfig(dir, `${tokens(second)}failed:\n  rescan: "30 * * * *"\n`);
      relay.child.kill("SIGHUP");
      await waitFor(async () => (await sendPlain(relay.url, second)) === 200, 5_000, "the new token");
      expect(await sendPlain(relay.url, first)).toBe(401);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it("refuses a certificate that no longer reads and keeps serving with the old config", async () => {
    const dir = tmpDir();
    const pair = makeCertificate(dir, "relay");
    const ca = fs.readFileSync(pair.cert);
    const tls = `  tls: { cert: "${pair.cert}", key: "${pair.key}" }\n`;
    writeConfig(dir, tokens(first) + tls);
    const relay = await startRelay({ cwd: dir });
    try {
      expect(await send(relay.url, first, ca)).toBe(200);
      writeConfig(dir, tokens(second) + tls);
      fs.writeFileSync(pair.cert, "-----BEGIN CERTIFICATE-----\ntruncated by a failed renewal\n");
      await refused(relay, "server.tls.cert");
      expect(await send(relay.url, first, ca)).toBe(200);
      expect(await send(relay.url, second, ca)).toBe(401);
      fs.rmSync(pair.cert);
      await refused(relay, `server.tls.cert: cannot read ${pair.cert}: no such file`);
      expect(await send(relay.url, first, ca)).toBe(200);
      fs.writeFileSync(pair.cert, ca);
      relay.child.kill("SIGHUP");
      await waitFor(async () => (await send(relay.url, second, ca)) === 200, 5_000, "the new token");
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });
});
