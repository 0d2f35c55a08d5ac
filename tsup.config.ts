// One self-contained ESM bundle (dist/main.js), the input of `bun build --compile`. It
// runs on Bun only: the spool index uses Bun's built-in SQLite (bun:sqlite), left external.
// CommonJS dependencies get a real `require` via the banner. Files imported
// `with { type: "text" }` (the console's htmx, script and stylesheet) become strings in it.
import fs from "node:fs/promises";
import { defineConfig } from "tsup";
import type { Plugin } from "esbuild";

// the path gets a ".text" suffix: other plugins' loaders (tsup's for .css) must not take it
const textImports: Plugin = {
  name: "text-imports",
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.with.type !== "text" || args.pluginData === "text") return undefined;
      const { path, errors } = await build.resolve(args.path, {
        resolveDir: args.resolveDir,
        kind: args.kind,
        pluginData: "text",
      });
      return { path: `${path}.text`, namespace: "text", errors };
    });
    build.onLoad({ filter: /\.text$/, namespace: "text" }, async (args) => ({
      contents: await fs.readFile(args.path.slice(0, -".text".length), "utf8"),
      loader: "text",
    }));
  },
};

export default defineConfig({
  entry: { main: "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  outDir: "dist",
  bundle: true,
  noExternal: [/^(?!bun:)/],
  external: ["bun:sqlite"],
  splitting: false,
  sourcemap: false,
  clean: true,
  esbuildPlugins: [textImports],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
