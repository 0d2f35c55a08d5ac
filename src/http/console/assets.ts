// The console's static files, served from memory: htmx (the npm package's build, embedded in
// the bundle and the executable), the console's script and its stylesheet. Cached for a day.
import { Hono } from "hono";
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import script from "./assets/console.js" with { type: "text" };
import stylesheet from "./assets/console.css" with { type: "text" };
import { MailspoolError } from "../../errors.js";
import type { ConsoleEnv } from "./guard.js";

const files: Record<string, { type: string; body: string }> = {
  "htmx.min.js": { type: "text/javascript; charset=utf-8", body: htmx },
  "console.js": { type: "text/javascript; charset=utf-8", body: script },
  "console.css": { type: "text/css; charset=utf-8", body: stylesheet },
};

export function assetsRoute() {
  return new Hono<ConsoleEnv>().get("/console/assets/:name", (c) => {
    const file = files[c.req.param("name")];
    if (!file) throw new MailspoolError("not_found", "No such file");
    c.header("Content-Type", file.type);
    c.header("Cache-Control", "public, max-age=86400");
    return c.body(file.body);
  });
}
