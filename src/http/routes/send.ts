// POST /api/email/send: multipart, form or JSON → a durable accepted record → 200 {id}.
import { Hono } from "hono";
import { z } from "zod";
import { readSendRequest } from "../../intake/send-request.js";
import { requestHash } from "../../intake/idempotency.js";
import { discardFiles } from "../../intake/incoming-file.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { openIntake } from "../intake-request.js";
import { success } from "../envelope.js";
import { requireScope } from "../token-scopes.js";
import { mailIdSchema } from "../api-schemas.js";

export const sendAnswerSchema = z.object({ id: mailIdSchema });

export function sendRoute(deps: AppDeps) {
  const { log, intake, observe } = deps;
  return new Hono<AppEnv>().post("/api/email/send", requireScope("send"), async (c) => {
    const { config } = deps;
    const { started, client, key } = openIntake(c, deps);
    const input = await readSendRequest(c.req.raw, intake.accept.limits, intake.accept.blobs);
    const accept = (requestHash?: string) =>
      intake.accept.acceptParsed(input, client, key ? { idempotency: { key, requestHash } } : {});
    let id: string;
    let repeated = false;
    // the request's files are the spool's once accepted; on every other way out (a repeat,
    // a 409, a 429, …) their temp files and handles are released here
    let accepted = false;
    try {
      if (key) {
        const hash = requestHash(input);
        ({ id, repeated } = await intake.idempotency.run(key, hash, () => accept(hash)));
      } else {
        id = await accept();
      }
      accepted = !repeated;
    } finally {
      if (!accepted) await discardFiles(input.files);
    }
    if (repeated) {
      log.info(
        { mailId: id, requestId: c.get("requestId"), client },
        "repeated Idempotency-Key: first answer returned, nothing queued",
      );
      return success(c, sendAnswerSchema, { id });
    }
    observe.metrics.mailAccepted((performance.now() - started) / 1000);
    const body = config.log.bodies
      ? { title: input.fields.title, content: input.fields.content, text: input.fields.text }
      : {};
    log.info(
      {
        mailId: id,
        requestId: c.get("requestId"),
        client,
        attachments: input.files.length,
        ms: Math.round(performance.now() - started),
        ...body,
      },
      "mail accepted",
    );
    return success(c, sendAnswerSchema, { id });
  });
}
