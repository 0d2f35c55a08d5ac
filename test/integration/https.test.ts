// HTTPS when server.tls is set (a self-signed certificate made with openssl), on the binary.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { expect, it } from "vitest";
import { startRelay, writeConfig } from "../helpers/server-process.js";
import { tmpDir } from "../helpers/tmp-dir.js";

it("serves the API over HTTPS with the configured certificate", async () => {
  const dir = tmpDir();
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "cert.pem",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { cwd: dir, stdio: "ignore" },
  );
  writeConfig(dir, ["server:", "  tls: { cert: ./cert.pem, key: ./key.pem }"].join("\n"));
  const relay = await startRelay({ cwd: dir });
  try {
    expect(relay.url.startsWith("https://")).toBe(true);
    const ca = fs.readFileSync(path.join(dir, "cert.pem"));
    const body = new URLSearchParams({ title: "tls", content: "c", receiver: "a@example.com" }).toString();
    const answer = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      const request = https.request(
        `${relay.url}/api/email/send`,
        { method: "POST", ca, headers: { "content-type": "application/x-www-form-urlencoded" } },
        (response) => {
          let text = "";
          response.on("data", (c) => (text += c));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) }));
        },
      );
      request.on("error", reject);
      request.end(body);
    });
    expect(answer.status).toBe(200);
    expect(answer.json.data.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(relay.output()).not.toContain("PRIVATE KEY");
  } finally {
    expect(await relay.stop()).toBe(0);
  }
});
