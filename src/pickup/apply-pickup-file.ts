// A pickup file's bytes, carried out: a file already ingested under its name is left alone
// (used-name.ts), else what it asks for (pickup-request.ts) is done — a replay or a cancel
// through the admin API's actions, a batch of them (apply-batch.ts, with a per-mail result in
// pickup/done/), a new mail through intake's one accept path — with the name as the
// idempotency key and the sha256 of the bytes beside it in the record.
import type { Intake } from "../intake/intake.js";
import { sendInputFromMembers } from "../intake/send-request.js";
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import type { MailId } from "../types.js";
import { applyBatch } from "./apply-batch.js";
import { writeBatchResult } from "./batch-results.js";
import { parsePickupJson } from "./pickup-json.js";
import { pickupRequestOf } from "./pickup-request.js";
import { fileHash, ingestedBefore, pickupKey } from "./used-name.js";

/** What a replay or cancel file asks of the mail (the admin API's actions). */
export interface PickupActions {
  replay(
    id: MailId,
    options: { recipients?: string[]; reason: string; idempotencyKey: string; requestHash: string },
  ): Promise<string[]>;
  /** Resolves false when the mail was already cancelled. */
  cancel(id: MailId, reason: string, idempotencyKey: string, requestHash: string): Promise<boolean>;
}

export interface PickupDeps {
  spool: Spool;
  intake: Intake;
  actions: PickupActions;
  log: Logger;
}

export async function applyPickupFile(deps: PickupDeps, name: string, bytes: Buffer): Promise<void> {
  const { spool, intake, actions, log } = deps;
  const key = pickupKey(name);
  const requestHash = fileHash(bytes);
  const earlier = ingestedBefore(spool.index, name, requestHash, Date.now());
  if (earlier) {
    log.info({ file: name, mailId: earlier }, "pickup file was already ingested; removing it");
    return;
  }
  const members = parsePickupJson(bytes);
  const request = pickupRequestOf(members);
  const reason = `pickup ${name}`;
  if (request.kind === "replay") {
    const { id, recipients } = request;
    const sendTo = await actions.replay(id, { recipients, reason, idempotencyKey: key, requestHash });
    log.info({ file: name, mailId: id, recipients: sendTo.length }, "pickup: mail replayed");
  } else if (request.kind === "cancel") {
    await actions.cancel(request.id, reason, key, requestHash);
    log.info({ file: name, mailId: request.id }, "pickup: mail cancelled");
  } else if (request.kind === "batch") {
    const results = await applyBatch(deps, name, request.requests, requestHash);
    await writeBatchResult(spool.paths.pickup, { file: name, finishedAt: new Date().toISOString(), results });
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    log.info(
      {
        file: name,
        requests: results.length,
        replayed: count("replayed"),
        cancelled: count("cancelled") + count("already-cancelled"),
        doneBefore: count("done-before"),
        refused: count("refused"),
      },
      "pickup: batch file ingested",
    );
  } else {
    const input = await sendInputFromMembers(members, intake.limits, intake.blobs);
    const id = await intake.acceptParsed(input, "pickup", {
      idempotency: { key, requestHash },
      exemptFromQuota: true,
    });
    log.info({ file: name, mailId: id }, "pickup: mail accepted");
  }
}
