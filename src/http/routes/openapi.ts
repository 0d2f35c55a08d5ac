// GET /openapi.json: the API's OpenAPI 3.1 document (../openapi.ts), for the clients that
// may read mail states (scope `read` or `admin`); built once per config.
import { Hono } from "hono";
import type { Config } from "../../config.js";
import type { AppDeps } from "../app.js";
import type { AppEnv } from "../app-env.js";
import { openApiDocument } from "../openapi.js";
import { requireScope } from "../token-scopes.js";

export function openApiRoute(deps: AppDeps) {
  let built: { config: Config; document: ReturnType<typeof openApiDocument> } | null = null;
  return new Hono<AppEnv>().get("/openapi.json", requireScope("read"), (c) => {
    if (built?.config !== deps.config) built = { config: deps.config, document: openApiDocument(deps.config) };
    return c.json(built.document);
  });
}
