// Bench baseline: the relay's HTTP intake WITHOUT the spool. Run with Bun:
//   node_modules/.bin/bun bench/parse-only-server.ts -c <app.yaml>
// Same config loader, same listener (src/http/serve.ts: Bun.serve with the same options),
// same middleware (request id, access control), same parsing (readSendRequest) and the
// same validation (attachmentErrors + validateSendFields, as acceptMail runs them) and
// the same 200 envelope with a fresh ulid. What it leaves out is exactly what "durable"
// adds: the rest of the send route and acceptMail (quotas, idempotency, building the
// record), encoding + CRC, the group-committed write + fdatasync, the index, the per-mail
// "mail accepted" log line and the delivery that follows.
// It logs the same "mailspool listening" line (with "url") that the runner waits for.
import fs from "node:fs";
import { Hono } from "hono";
import { ulid } from "ulid";
import { loadConfig, parseListen } from "../src/config.js";
import { MailspoolError } from "../src/errors.js";
import { accessControl } from "../src/http/access.js";
import type { AppEnv } from "../src/http/app-env.js";
import { failure, success } from "../src/http/envelope.js";
import { requestId } from "../src/http/request-id.js";
import { sendAnswerSchema } from "../src/http/routes/send.js";
import { listen } from "../src/http/serve.js";
import { validateSendFields } from "../src/intake/build-mail.js";
import { discardFiles } from "../src/intake/incoming-file.js";
import { attachmentErrors } from "../src/intake/mail-schema.js";
import { readSendRequest } from "../src/intake/send-request.js";
import { createLogger, flushLogger } from "../src/log.js";
import { spoolPaths } from "../src/spool/spool.js";
import { BlobStore } from "../src/spool/blobs.js";

const configIndex = process.argv.indexOf("-c");
const loaded = loadConfig({ explicitPath: configIndex > 0 ? process.argv[configIndex + 1] : undefined });
const { config } = loaded;
const log = createLogger(config.log.level);

// Only needed for spilling attachments larger than spool.inlineMaxBytes (never, for 2 KiB).
const blobsDir = spoolPaths(loaded.dataDir).blobs;
fs.mkdirSync(blobsDir, { recursive: true });
const blobs = new BlobStore(blobsDir);

const policy = {
  from: config.delivery.from,
  maxRecipients: config.delivery.maxRecipients,
  maxScheduleDays: config.delivery.maxScheduleDays,
};
// the send route's limits (100 files, 50 fields; src/intake/limits.ts); kept literal here so
// the baseline does not break while that module moves around
const limits = {
  maxBodyBytes: config.server.maxBodyBytes,
  inlineMaxBytes: config.spool.inlineMaxBytes,
  maxFiles: 100,
  maxFields: 50,
};

const app = new Hono<AppEnv>();
app.use(requestId());
const accessOptions = {
  allow: config.server.allow,
  trustProxy: config.server.trustProxy,
  tokens: config.server.tokens,
  tokenFreeFromLoopback: ["/health", "/metrics"],
};
// accessControl has taken the options object, and now takes a getter (re-read on SIGHUP):
// hand it something that is both, so the baseline keeps working across that change
app.use(
  accessControl(Object.assign(() => accessOptions, accessOptions) as unknown as Parameters<typeof accessControl>[0]),
);
app.post("/api/email/send", async (c) => {
  const input = await readSendRequest(c.req.raw, limits, blobs);
  try {
    const fileErrors = input.files.flatMap((f, i) => attachmentErrors(i, f.filename, f.contentType));
    validateSendFields(input.fields, policy, fileErrors);
  } finally {
    await discardFiles(input.files);
  }
  return success(c, sendAnswerSchema, { id: ulid() });
});
app.notFound((c) => failure(c, new MailspoolError("not_found")));
app.onError((error, c) => {
  if (error instanceof MailspoolError) return failure(c, error);
  log.error({ err: error, path: c.req.path }, "unhandled error");
  return failure(c, new MailspoolError("internal"));
});

const listening = await listen(app, { ...parseListen(config.server.listen), maxBodyBytes: config.server.maxBodyBytes });
log.info(
  { url: listening.url, runtime: listening.runtime, dataDir: loaded.dataDir, mode: "parse-only" },
  "mailspool listening",
);

const stop = async (signal: string) => {
  log.info({ signal }, "parse-only server stopping");
  await listening.close();
  flushLogger(log);
  process.exit(0);
};
process.once("SIGTERM", () => void stop("SIGTERM"));
process.once("SIGINT", () => void stop("SIGINT"));
