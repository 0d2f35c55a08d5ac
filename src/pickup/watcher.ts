// data/pickup: the hand-off directory. Every *.json file (never *.tmp or dotfiles) is
// ingested then removed: a new mail (the JSON API's fields), a replay
// {"replay": id, "recipients"?: [...]}, or a cancel {"cancel": id}. The file name is the
// idempotency key, so a crash between spooling and unlinking ingests it once. A file
// that cannot be used moves to pickup/rejected/ with a .reason.txt beside it; a spool
// I/O error leaves it in place for the next scan.
import fs from "node:fs";
import path from "node:path";
import { MailspoolError } from "../errors.js";
import type { Intake } from "../intake/intake.js";
import { sendInputFromJson } from "../intake/send-request.js";
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";

/** What a replay or cancel file asks of the mail (the admin API's actions). */
export interface PickupActions {
  replay(id: MailId, options: { recipients?: string[]; reason: string; idempotencyKey: string }): Promise<string[]>;
  cancel(id: MailId, reason: string, idempotencyKey: string): Promise<void>;
}

export interface PickupOptions {
  spool: Spool;
  intake: Intake;
  actions: PickupActions;
  log: Logger;
  intervalMs?: number;
}

const keyWindowMs = 24 * 3600 * 1000;

export class PickupWatcher {
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private readonly dir: string;

  constructor(private readonly options: PickupOptions) {
    this.dir = options.spool.paths.pickup;
  }

  start(): void {
    this.timer = setInterval(() => void this.scan(), this.options.intervalMs ?? 1000);
    this.timer.unref();
    void this.scan();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.scanning;
  }

  /** One pass over the directory; passes never overlap. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = null));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const names = (await fs.promises.readdir(this.dir)).filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort();
    for (const name of names) await this.ingest(name);
  }

  private async ingest(name: string): Promise<void> {
    const { spool, log } = this.options;
    const file = path.join(this.dir, name);
    const key = `pickup:${name}`;
    try {
      const done = spool.index.byIdempotencyKey(key, new Date(Date.now() - keyWindowMs));
      if (done) log.info({ file: name, mailId: done }, "pickup file was already ingested; removing it");
      else await this.apply(name, key, await this.read(file));
      await fs.promises.rm(file, { force: true });
    } catch (error) {
      if (error instanceof MailspoolError && error.status < 500) return this.reject(name, error);
      log.error({ err: error, file: name }, "pickup file not ingested; will retry");
    }
  }

  private async read(file: string): Promise<unknown> {
    const text = await fs.promises.readFile(file, "utf8");
    if (text.length > this.options.intake.limits.maxBodyBytes * 2)
      throw new MailspoolError("too_large", "pickup file is larger than twice server.maxBodyBytes");
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new MailspoolError("invalid_param", `malformed JSON: ${(error as Error).message}`);
    }
  }

  private async apply(name: string, key: string, content: unknown): Promise<void> {
    const { intake, actions, log } = this.options;
    const request = (typeof content === "object" && content !== null ? content : {}) as Record<string, unknown>;
    const reason = `pickup ${name}`;
    if (typeof request.replay === "string") {
      const recipients = Array.isArray(request.recipients) ? request.recipients.map(String) : undefined;
      const sendTo = await actions.replay(request.replay, { recipients, reason, idempotencyKey: key });
      log.info({ file: name, mailId: request.replay, recipients: sendTo.length }, "pickup: mail replayed");
    } else if (typeof request.cancel === "string") {
      await actions.cancel(request.cancel, reason, key);
      log.info({ file: name, mailId: request.cancel }, "pickup: mail cancelled");
    } else {
      const input = await sendInputFromJson(content, intake.limits, intake.blobs);
      const id = await intake.acceptParsed(input, "pickup", { idempotency: { key }, exemptFromQuota: true });
      log.info({ file: name, mailId: id }, "pickup: mail accepted");
    }
  }

  private async reject(name: string, error: MailspoolError): Promise<void> {
    const rejected = path.join(this.dir, "rejected");
    await fs.promises.mkdir(rejected, { recursive: true });
    await fs.promises.rename(path.join(this.dir, name), path.join(rejected, name));
    const details = error.errors?.map((e) => `${e.field}: ${e.message}`).join("\n") ?? "";
    await fs.promises.writeFile(path.join(rejected, `${name}.reason.txt`), `${error.message}\n${details}\n`);
    this.options.log.warn({ file: name, reason: error.message }, "pickup file rejected");
  }
}
