// The real binary with SMTP intake on, delivering into its outbox, for the hostile-input
// tests; and the check every one of them ends with: the relay still takes and delivers a
// normal message, no temp file is left in blobs/, and `mailspool fsck` is clean.
import fs from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import { expect } from "vitest";
import { runCli } from "./cli.js";
import { startRelay, writeConfig, type RelayProcess } from "./server-process.js";
import { tmpDir, waitFor } from "./tmp-dir.js";

export const intakeUser = { user: "app", pass: "app-secret-pass" };

export interface IntakeRelay {
  relay: RelayProcess;
  smtpPort: number;
  dir: string;
}

const running: RelayProcess[] = [];

/** Starts the binary; extra lines go under each section (indented for it), `top` ones at the top level. */
export async function startIntakeRelay(
  extra: { server?: string[]; delivery?: string[]; smtpIntake?: string[]; top?: string[] } = {},
): Promise<IntakeRelay> {
  const dir = tmpDir();
  const under = (lines: string[] = []) => lines.map((line) => `  ${line}`);
  writeConfig(
    dir,
    [
      "server:",
      ...under(extra.server ?? ["maxBodyBytes: 200000"]),
      "delivery:",
      "  from: relay@example.org",
      ...under(extra.delivery),
      "smtpIntake:",
      "  enabled: true",
      '  listen: "127.0.0.1:0"',
      "  users:",
      `    - { user: ${intakeUser.user}, pass: "${intakeUser.pass}" }`,
      ...under(extra.smtpIntake),
      ...(extra.top ?? []),
    ].join("\n"),
  );
  const relay = await startRelay({ cwd: dir });
  running.push(relay);
  const smtpPort = Number(/"smtp":"127\.0\.0\.1:(\d+)"/.exec(relay.output())![1]);
  return { relay, smtpPort, dir };
}

export async function stopIntakeRelays(): Promise<void> {
  await Promise.all(running.splice(0).map((r) => r.stop()));
}

export const blobsDir = (r: IntakeRelay) => path.join(r.dir, "data/blobs");
export const tempBlobs = (r: IntakeRelay) => fs.readdirSync(blobsDir(r)).filter((f) => f.startsWith(".tmp-"));

/** The delivered bytes of a mail the relay acknowledged with "queued as <id>". */
export function outboxMessage(r: IntakeRelay, reply: string): Promise<Buffer> {
  const id = /queued as ([0-9A-Z]{26})/.exec(reply)?.[1];
  if (!id) throw new Error(`not an acknowledgement: ${reply}`);
  const file = path.join(r.dir, "data/outbox", `${id}.eml`);
  return waitFor(() => fs.existsSync(file) && fs.readFileSync(file), 10_000, `outbox/${id}.eml`);
}

export async function expectStillServing(r: IntakeRelay): Promise<void> {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: r.smtpPort,
    secure: false,
    ignoreTLS: true,
    auth: intakeUser,
    connectionTimeout: 3000,
    socketTimeout: 5000,
  });
  const raw = Buffer.from("From: a@example.com\r\nTo: b@example.com\r\nSubject: still here\r\n\r\nhello\r\n");
  const info = await transport.sendMail({ envelope: { from: "a@example.com", to: ["b@example.com"] }, raw });
  expect((await outboxMessage(r, info.response)).subarray(-raw.length).equals(raw)).toBe(true);
  expect(tempBlobs(r)).toEqual([]);
  const fsck = runCli(["fsck", "-c", path.join(r.dir, "app.yaml")], r.dir);
  expect(fsck.stdout + fsck.stderr).not.toMatch(/error/i);
  expect(fsck.code).toBe(0);
}
