// npm run bench: the cost of reading a JSON send body strictly (src/intake: jsonMembers
// with its nested repeated-key check, then strict base64) against the runtime's JSON.parse
// alone, in-process under Bun, median of 7 runs. Bodies of 25,000,000 bytes or so: one
// base64 attachment on one line, the same wrapped at 76 columns (CRLF), and a hostile one
// of 500,000 small attachment objects: every key is walked for repeats, and intake decodes
// no more than its attachment limit before refusing the rest.
import { jsonMembers } from "../src/intake/json-members.js";
import { maxAttachments } from "../src/intake/limits.js";
import { decodeStrictBase64 } from "../src/intake/strict-base64.js";

const raw = Buffer.alloc(18_700_000);
for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) & 255;
const base64 = raw.toString("base64");
const mail = { title: "t", content: "<p>c</p>", receiver: "a@example.com" };
const bodies: Record<string, string> = {
  "one base64 attachment": JSON.stringify({ ...mail, attachment: [{ filename: "a.bin", content: base64 }] }),
  "the same, wrapped at 76 columns": JSON.stringify({
    ...mail,
    attachment: [{ filename: "a.bin", content: base64.replace(/.{76}/g, "$&\r\n") }],
  }),
  "500,000 small attachment objects": JSON.stringify({
    ...mail,
    attachment: Array.from({ length: 500_000 }, (_, i) => ({ filename: `f${i}`, content: "eA==" })),
  }),
};

function median(run: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[3]!;
}

function readStrictly(text: string): void {
  const members = jsonMembers(text)!;
  for (const [key, value] of members)
    if (key === "attachment")
      for (const item of (value as { content: string }[]).slice(0, maxAttachments))
        if (!decodeStrictBase64(item.content)) throw new Error("not strict base64");
}

console.log("\nJSON send body, read strictly vs JSON.parse alone (Bun, in-process, median of 7)\n");
console.log("| body | bytes | JSON.parse ms | strict read ms | ratio |");
console.log("|---|---:|---:|---:|---:|");
for (const [name, text] of Object.entries(bodies)) {
  const parse = median(() => JSON.parse(text));
  const strict = median(() => readStrictly(text));
  console.log(
    `| ${name} | ${text.length} | ${parse.toFixed(0)} | ${strict.toFixed(0)} | ${(strict / parse).toFixed(2)} |`,
  );
}
