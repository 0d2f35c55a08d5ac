// Wrong method on a known path → 405 with Allow and the {code,message,data} envelope, in
// one place for every route; an unknown path stays 404. In memory (app.request() over an
// in-process relay), every documented path × method, then generated paths and methods
// against a model of the route table.
import fc from "fast-check";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";

let relay: InProcessRelay;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  relay = await startInProcess("");
  app = createApp(relay.app);
});
afterAll(async () => {
  await relay.stop();
});

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const read = ["GET", "HEAD"];
const post = ["POST"];

/** The route table as the README documents it: path → methods it takes (undefined: unknown path). */
function allowedFor(path: string): string[] | undefined {
  const literal: Record<string, string[]> = {
    "/api/email/send": post,
    "/api/email": read,
    "/health": read,
    "/metrics": read,
    "/admin/pause": post,
    "/admin/resume": post,
    "/admin/retry-failed": post,
  };
  if (literal[path]) return literal[path];
  if (/^\/api\/email\/[^/]+$/.test(path)) return read;
  if (/^\/admin\/cancel\/[^/]+$/.test(path)) return post;
  return undefined;
}

const request = (method: string, path: string) => app.request(path, { method }, { remoteAddress: "127.0.0.1" });

async function expectAnswer(method: string, path: string): Promise<void> {
  const response = await request(method, path);
  const allow = allowedFor(path);
  if (!allow) {
    expect(response.status, `${method} ${path}`).toBe(404);
    return;
  }
  if (allow.includes(method)) {
    expect(response.status, `${method} ${path}`).not.toBe(405);
    return;
  }
  if (method === "OPTIONS") {
    expect(response.status).toBe(204);
    expect(response.headers.get("allow")).toBe([...allow, "OPTIONS"].join(", "));
    return;
  }
  expect(response.status, `${method} ${path}`).toBe(405);
  expect(response.headers.get("allow")).toBe(allow.join(", "));
  if (method === "HEAD") return;
  expect(await response.json()).toEqual({
    code: 405,
    message: `${method} is not allowed on ${path}`,
    data: { allow },
  });
}

describe("405 Method Not Allowed", () => {
  it("answers GET /api/email/send with 405 Allow: POST (not a lookup of a mail called send)", async () => {
    const response = await request("GET", "/api/email/send");
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(await response.json()).toEqual({
      code: 405,
      message: "GET is not allowed on /api/email/send",
      data: { allow: ["POST"] },
    });
  });

  it("holds for every documented path × method", async () => {
    const paths = [
      "/api/email/send",
      "/api/email",
      `/api/email/${ulid()}`,
      "/health",
      "/metrics",
      "/admin/pause",
      "/admin/resume",
      "/admin/retry-failed",
      `/admin/cancel/${ulid()}`,
    ];
    for (const path of paths) for (const method of methods) await expectAnswer(method, path);
    await relay.app.admin.setPaused(false);
  });

  it("holds for generated paths and methods; unknown paths stay 404", async () => {
    const segment = fc.constantFrom("api", "email", "send", "admin", "cancel", "pause", "health", "metrics", "x", "");
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`);
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom(...methods), async (p, method) => {
        await expectAnswer(method, p);
      }),
      { numRuns: 300 },
    );
  });
});
