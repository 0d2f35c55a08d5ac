// One self-contained ESM bundle (dist/main.js), the input of `bun build --compile`. It
// runs on Bun only: the spool index uses Bun's built-in SQLite (bun:sqlite), left external.
// CommonJS dependencies get a real `require` via the banner.
import { defineConfig } from "tsup";

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
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
