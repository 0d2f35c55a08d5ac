// createApp(deps): the Hono app with its middleware, routes and one error handler.
// It never listens (http/serve.ts does); tests may call app.request() in memory.
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "../config.js";
import type { DailyCounter } from "../delivery/daily-counter.js";
import type { Delivery } from "../delivery/delivery.js";
import type { Idempotency } from "../intake/idempotency.js";
import type { Intake } from "../intake/intake.js";
import type { Alerts } from "../jobs/alerts.js";
import type { Metrics } from "../metrics.js";
import { MailspoolError, spoolIoError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Spool } from "../spool/spool.js";
import { accessControl, type AccessOptions } from "./access.js";
import { consoleFailure, isConsolePath, isOpenConsolePath } from "./console/guard.js";
import { consoleRoute } from "./console/routes.js";
import { Sessions } from "./console/session.js";
import { allowedMethods } from "./allowed-methods.js";
import type { AppEnv } from "./app-env.js";
import { failure } from "./envelope.js";
import { requestId } from "./request-id.js";
import { adminRoute } from "./routes/admin.js";
import { batchRoute } from "./routes/batch.js";
import { metricsRoute } from "./routes/metrics.js";
import { openApiRoute } from "./routes/openapi.js";
import { healthRoute } from "./routes/health.js";
import { recordsRoute } from "./routes/records.js";
import { sendRoute } from "./routes/send.js";
import { statusRoute } from "./routes/status.js";

export interface IntakeGate {
  /** False while shutting down: intake answers 503. */
  accepting: boolean;
  /** Cluster mode: why intake cannot take mail now (the broker is gone), or null. */
  refusal?: () => string | null;
}

/** What the admin API acts on. */
export interface AdminDeps {
  delivery: Pick<Delivery, "cancel" | "replay" | "paused" | "buckets">;
  setPaused(paused: boolean): Promise<void>;
}

/** The accept path and the HTTP-only policy that keeps state across requests. */
export interface IntakeDeps {
  accept: Intake;
  idempotency: Idempotency;
}

/** What the app reports to and reads from: metrics, alerts and each upstream's count today. */
export interface ObserveDeps {
  metrics: Metrics;
  alerts: Pick<Alerts, "activeStates">;
  daily: Pick<DailyCounter, "count">;
}

export interface AppDeps {
  /** Replaced by SIGHUP: handlers read it per request. */
  config: Config;
  observe: ObserveDeps;
  spool: Spool;
  log: Logger;
  gate: IntakeGate;
  admin: AdminDeps;
  intake: IntakeDeps;
}

const otherBodyBytes = 1024 * 1024;

/** The ways mail comes in over HTTP: bodies up to server.maxBodyBytes, refusals counted and logged as such. */
const intakePaths = new Set(["/api/email/send", "/api/email/batch"]);

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { log } = deps;
  const app = new Hono<AppEnv>();
  const tokenFreeFromLoopback = ["/health", "/metrics"];
  app.use(requestId());
  const sessions = new Sessions();
  const sessionToken = (c: Context<AppEnv>) => (isConsolePath(c.req.path) ? sessions.tokenDigest(c) : undefined);
  let access: { config: Config; options: AccessOptions } | null = null;
  const accessOptions = () => {
    if (access?.config !== deps.config)
      access = {
        config: deps.config,
        options: { ...deps.config.server, tokenFreeFromLoopback, tokenFree: isOpenConsolePath, sessionToken },
      };
    return access.options;
  };
  app.use(accessControl(accessOptions));
  app.use(allowedMethods(app));
  // the runtime's own body guard is off (serve.ts): the send and batch routes read their body
  // under server.maxBodyBytes, every other route takes at most a small JSON body
  const smallBody = bodyLimit({
    maxSize: otherBodyBytes,
    onError: () => {
      throw new MailspoolError("too_large", `Request body exceeds ${otherBodyBytes} bytes`);
    },
  });
  app.use((c, next) => (intakePaths.has(c.req.path) ? next() : smallBody(c, next)));
  app.route("/", healthRoute(deps));
  app.route("/", sendRoute(deps));
  app.route("/", batchRoute(deps));
  app.route("/", statusRoute(deps));
  app.route("/", recordsRoute(deps));
  app.route("/", adminRoute(deps));
  app.route("/", metricsRoute(deps));
  app.route("/", openApiRoute(deps));
  app.route("/", consoleRoute(deps, sessions));
  app.notFound((c) => {
    const error = new MailspoolError("not_found");
    return isConsolePath(c.req.path) ? consoleFailure(c, error) : failure(c, error);
  });
  app.onError((thrown, c) => {
    // a file-system failure on the way to the spool (a blob write) is a spool error: 507 when full, else 503
    const error =
      thrown instanceof MailspoolError
        ? thrown
        : typeof (thrown as NodeJS.ErrnoException).syscall === "string"
          ? spoolIoError(thrown)
          : null;
    if (intakePaths.has(c.req.path)) deps.observe.metrics.requestRejected(error?.code ?? "internal");
    if (error) {
      if (error.status >= 500) log.error({ err: error.cause ?? error, requestId: c.get("requestId") }, error.message);
      // a refused send is the client's doing (bad input, a client gone mid-body): named, never an error line
      else if (intakePaths.has(c.req.path))
        log.info(
          { requestId: c.get("requestId"), code: error.code, fields: error.errors?.map((e) => e.field) },
          "send refused",
        );
      return isConsolePath(c.req.path) ? consoleFailure(c, error) : failure(c, error);
    }
    log.error({ err: thrown, requestId: c.get("requestId"), path: c.req.path }, "unhandled error");
    const internal = new MailspoolError("internal");
    return isConsolePath(c.req.path) ? consoleFailure(c, internal) : failure(c, internal);
  });
  return app;
}
