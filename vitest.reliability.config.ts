// `npm run test:reliability`: the reliability suite (test/reliability/) at full size —
// 50 kill -9 restarts, the 10-minute soak, larger loads. `npm test` runs the same files
// CI-sized. MAILSPOOL_RELIABILITY=ci npm run test:reliability runs them CI-sized alone.
// Files run one at a time so the soak's RSS/fd figures and the kill timings are not
// disturbed by the other tests.
import { defineConfig } from "vitest/config";
import { textImports } from "./test/helpers/vite-text-imports.js";

export default defineConfig({
  plugins: [textImports],
  test: {
    include: ["test/reliability/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
    server: { deps: { inline: [/zod/, /htmx\.org/] } },
    globalSetup: ["test/helpers/global-setup.ts"],
    env: { MAILSPOOL_RELIABILITY: process.env.MAILSPOOL_RELIABILITY ?? "full" },
  },
});
