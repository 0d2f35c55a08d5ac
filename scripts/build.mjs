// npm run build: tsup bundles src/ into dist/main.js, then Bun compiles that bundle into
// the single executable dist/mailspool.
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const run = (file, args) => execFileSync(file, args, { cwd: root, stdio: "inherit" });

run(bin("tsup"), []);
run(bin("bun"), ["build", "--compile", "dist/main.js", "--outfile", "dist/mailspool"]);
const size = statSync(`${root}dist/mailspool`).size;
console.log(`built dist/mailspool (${(size / 1048576).toFixed(1)} MiB)`);
