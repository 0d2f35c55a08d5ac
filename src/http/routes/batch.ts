// POST /api/email/batch: a JSON array of up to server.maxBatch sends → 200 {ids} in order.
// All or nothing: every mail is read and validated before any is stored, and their records
// share one commit (one write, one fdatasync), so the 200 comes once all are durable. A
// crash during that commit can leave some of them on disk without a 200: the client retries,
// and with the same Idempotency-Key the retry keeps the ones that landed and stores only
// the others (idempotency.ts, batchItemKey); without a key such a retry may send those twice.
import { Hono } from "hono";
import { z } from "zod";
import { batchFiles, readBatchRequest } from "../../intake/batch-request.js";
import { batchHash, batchItemKey } from "../../intake/idempotency.js";
import { discardFiles } from "../../intake/incoming-file.js";
import type { ValidMail } from "../../intake/intake.js";
import type { MailId } from "../../types.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { openIntake } from "../intake-request.js";
import { success } from "../envelope.js";
import { requireScope } from "../token-scopes.js";
import { mailIdSchema } from "../api-schemas.js";

export const batchAnswerSchema = z.object({ ids: z.array(mailIdSchema).meta({ description: "In the order sent" }) });

export function batchRoute(deps: AppDeps) {
  const { log, intake, observe } = deps;
  return new Hono<AppEnv>().post("/api/email/batch", requireScope("send"), async (c) => {
    const { started, client, key } = openIntake(c, deps);
    const elements = await readBatchRequest(
      c.req.raw,
      intake.accept.limits,
      intake.accept.blobs,
      deps.config.server.maxBatch,
    );
    let ids: MailId[];
    let earlier = 0;
    const stored = new Set<number>();
    const accept = async (mails: ValidMail[], places: number[], hash?: string) => {
      const fresh = await intake.accept.acceptBatch(
        places.map((at) => ({
          mail: mails[at]!,
          ...(key && hash ? { idempotency: { key: batchItemKey(key, at), requestHash: hash } } : {}),
        })),
        client,
      );
      for (const at of places) stored.add(at);
      return fresh;
    };
    try {
      const mails = intake.accept.validateBatch(elements);
      if (key) {
        const hash = batchHash(mails.map((m) => m.input));
        ({ ids, earlier } = await intake.idempotency.runBatch(key, hash, mails.length, (missing) =>
          accept(mails, missing, hash),
        ));
      } else {
        ids = await accept(
          mails,
          mails.map((_, at) => at),
        );
      }
    } finally {
      // the files of mails not stored now (refused, or stored by an earlier request) are released here
      await discardFiles(batchFiles(elements.filter((_, at) => !stored.has(at))));
    }
    const ms = Math.round(performance.now() - started);
    for (const at of stored) {
      observe.metrics.mailAccepted((performance.now() - started) / 1000);
      log.info({ mailId: ids[at], requestId: c.get("requestId"), client, batchIndex: at, ms }, "mail accepted");
    }
    if (earlier)
      log.info(
        { requestId: c.get("requestId"), client, earlier, stored: stored.size },
        "repeated Idempotency-Key: the batch's earlier mails returned, only the missing ones queued",
      );
    return success(c, batchAnswerSchema, { ids });
  });
}
