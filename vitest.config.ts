import { defineConfig } from "vitest/config";
import { textImports } from "./test/helpers/vite-text-imports.js";

export default defineConfig({
  plugins: [textImports],
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    server: { deps: { inline: [/zod/, /htmx\.org/] } },
    globalSetup: ["test/helpers/global-setup.ts"],
  },
});
