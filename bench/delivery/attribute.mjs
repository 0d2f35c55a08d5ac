// Attributes a Bun .cpuprofile of the relay's bundle (dist/main.js) to source modules and
// to groups of them (text conversion, MIME build, SMTP, spool, logging):
//
//   node bench/delivery/attribute.mjs <file.cpuprofile> [dist/main.js]
//   ATTRIBUTE_WEIGHT=samples node bench/delivery/attribute.mjs …   (count samples, not time deltas)
//
// Self time goes to the module whose "// node_modules/…" or "// src/…" banner (esbuild
// writes one before each module it inlines) precedes the sample's line; native frames
// take their nearest bundled caller's module (Bun's async callbacks often have none: those
// show as "(native, outside the bundle)").
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const [profileFile, bundleArg] = process.argv.slice(2);
if (!profileFile) {
  console.error("usage: node bench/delivery/attribute.mjs <file.cpuprofile> [dist/main.js]");
  process.exit(2);
}
const bundle = bundleArg ?? path.join(root, "dist/main.js");
const profile = JSON.parse(fs.readFileSync(profileFile, "utf8"));

// line (0-based) → module banner
const banners = [];
fs.readFileSync(bundle, "utf8")
  .split("\n")
  .forEach((line, i) => {
    const m = /^\/\/ ((?:node_modules|src)\/\S+)$/.exec(line);
    if (m) banners.push([i, m[1]]);
  });
function moduleAt(line) {
  let lo = 0;
  let hi = banners.length - 1;
  let found = "(bundle prelude)";
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (banners[mid][0] <= line) {
      found = banners[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // node_modules/a/b/c.js → node_modules/a (or @scope/a); src files stay whole
  if (found.startsWith("node_modules/")) {
    const parts = found.split("/");
    if (parts[1] === "nodemailer") return `nodemailer/${parts[4]}`; // node_modules/nodemailer/dist/esm/<part>/…
    return parts[1].startsWith("@") ? `${parts[1]}/${parts[2]}` : parts[1];
  }
  return found;
}

/** For unbundled runs (bun src/main.ts): a file URL → the same module names the banners give. */
function sourceModule(url) {
  if (!url) return null;
  const file = url.replace(/^file:\/\//, "");
  const nm = file.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = file.slice(nm + 1).split("/");
    if (parts[1] === "nodemailer") return `nodemailer/${parts[4]}`;
    return parts[1].startsWith("@") ? `${parts[1]}/${parts[2]}` : parts[1];
  }
  const src = file.lastIndexOf("/src/");
  return src >= 0 ? file.slice(src + 1) : null;
}

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const bundlePath = path.resolve(bundle);
const isBundle = (cf) => Boolean(cf.url) && path.resolve(cf.url.replace(/^file:\/\//, "")) === bundlePath;

// Bun's sampler takes no samples while the thread waits in the event loop, so the time delta
// before a sample can hold a long idle gap that is then credited to whatever ran next (often a
// native I/O callback). ATTRIBUTE_WEIGHT=samples counts samples instead (each worth the median delta).
const rawDeltas = profile.timeDeltas;
const medianDelta = [...rawDeltas].sort((a, b) => a - b)[rawDeltas.length >> 1] ?? 0;
const dt = process.env.ATTRIBUTE_WEIGHT === "samples" ? rawDeltas.map(() => medianDelta) : rawDeltas;
const total = dt.reduce((a, b) => a + b, 0);
const selfByModule = new Map();
let idle = 0;
const cache = new Map();
function stackOf(id) {
  if (cache.has(id)) return cache.get(id);
  const frames = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) frames.push(nodes.get(cur).callFrame);
  cache.set(id, frames);
  return frames;
}
for (let i = 0; i < profile.samples.length; i++) {
  const us = dt[i] ?? 0;
  const frames = stackOf(profile.samples[i]);
  const top = frames[0];
  if (
    top.functionName === "(idle)" ||
    top.functionName === "(program)" ||
    (frames.length <= 2 && top.functionName === "(root)")
  ) {
    idle += us;
    continue;
  }
  const owner = frames.find((f) => isBundle(f) || sourceModule(f.url));
  const mod = owner
    ? isBundle(owner)
      ? moduleAt(owner.lineNumber)
      : sourceModule(owner.url)
    : top.url
      ? top.url.replace(/:\d+$/, "")
      : "(native, outside the bundle)";
  selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + us);
}
const busy = total - idle;
const groups = [
  [
    "html-to-text (text part from HTML)",
    /^(html-to-text|selderee|@selderee|peberminta|parseley|leac|htmlparser2|domhandler|domutils|dom-serializer|entities|deepmerge-ts|domelementtype)$/,
  ],
  [
    "nodemailer MIME build (mail-composer, mime-node, mime-funcs, qp, base64, addressparser, punycode)",
    /^nodemailer\/(mail-composer|mime-node|mime-funcs|qp|base64|addressparser|punycode|shared)/,
  ],
  ["nodemailer SMTP (mailer, smtp-pool, smtp-connection)", /^nodemailer\//],
  [
    "logging (pino, sonic-boom, redact)",
    /^(pino|sonic-boom|pino-std-serializers|@pinojs\/redact|fast-redact|safe-stable-stringify|atomic-sleep|quick-format-unescaped|on-exit-leak-free|thread-stream)$/,
  ],
  ["spool (src/spool: append, encode/crc, fdatasync, index, readAccepted)", /^(src\/spool\/|crc-32$)/],
  ["daily counter (src/local-time, daily-counter)", /^src\/(local-time|delivery\/daily-counter)/],
  ["delivery (src/delivery)", /^src\/delivery\//],
  ["node streams/events/net (runtime JS)", /^(node:|internal:)/],
];
const byGroup = new Map();
for (const [mod, us] of selfByModule) {
  const g = groups.find(([, re]) => re.test(mod))?.[0] ?? "other";
  byGroup.set(g, (byGroup.get(g) ?? 0) + us);
}
const ms = (us) => `${(us / 1000).toFixed(0)} ms`;
const pct = (us) => `${((us / busy) * 100).toFixed(1)}%`;
console.log(
  `profile ${path.basename(profileFile)}: ${ms(total)} sampled, ${ms(busy)} busy (${((busy / total) * 100).toFixed(0)}%), ${ms(idle)} idle`,
);
console.log("\nself time by module (share of busy time):");
for (const [mod, us] of [...selfByModule]
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(process.env.ATTRIBUTE_MODULES ?? 25)))
  console.log(`  ${pct(us).padStart(6)}  ${ms(us).padStart(9)}  ${mod}`);
console.log("\nself time by group:");
for (const [g, us] of [...byGroup].sort((a, b) => b[1] - a[1]))
  console.log(`  ${pct(us).padStart(6)}  ${ms(us).padStart(9)}  ${g}`);
