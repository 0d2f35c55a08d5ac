// Vite does not read import attributes: the files the console imports `with { type: "text" }`
// are loaded as strings by name here, as tsup.config.ts does for the bundle and Bun natively.
import fs from "node:fs";
import type { Plugin } from "vite";

const textFiles = /(\/htmx\.org\/dist\/htmx\.min\.js|\/src\/http\/console\/assets\/[^/]+)$/;

export const textImports: Plugin = {
  name: "text-imports",
  enforce: "pre",
  load: (id) => (textFiles.test(id) ? `export default ${JSON.stringify(fs.readFileSync(id, "utf8"))};` : undefined),
};
