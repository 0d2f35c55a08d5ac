// The README's HTTP examples as data: every `curl` command in the chosen sections, in
// order, with the answer the README prints for it — a `# {…}` line right after it in the
// same ```sh block, or a ```json block right after that block (one answer may follow a run
// of commands: each of them answers so). A JSON example with no command before it is an
// error: every answer the README shows must be checkable. Programs (```js, ```python blocks)
// are listed too, to be run as written.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface ReadmeExample {
  section: string;
  command: string;
  /** The documented answer; undefined when the README prints none. */
  answer?: unknown;
}

/** The `## ` sections of the README, by heading. */
export function sections(markdown: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1)) {
    const newline = part.indexOf("\n");
    parts.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return parts;
}

/** Commands (with their continuation lines: a trailing `\` or an open single quote) and answer lines of a sh block. */
function* shellLines(block: string): Generator<{ command: string } | { answer: string }> {
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (/^# [[{]/.test(line)) yield { answer: line.slice(2) };
    if (!line.startsWith("curl ")) continue;
    let command = line;
    const open = () => (command.match(/'/g)?.length ?? 0) % 2 === 1 || command.endsWith("\\");
    while (open() && i + 1 < lines.length) command += `\n${lines[++i]}`;
    yield { command };
  }
}

export function readmeExamples(file: string, wanted: string[]): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  for (const [section, text] of sections(fs.readFileSync(file, "utf8"))) {
    if (!wanted.includes(section)) continue;
    let pending: ReadmeExample[] = [];
    for (const match of text.matchAll(/```(\w*)\n([\s\S]*?)```\n/g)) {
      const [whole, language, body] = match;
      if (language === "json") {
        if (!pending.length) throw new Error(`README "${section}": a JSON example with no curl command before it`);
        for (const example of pending) example.answer = JSON.parse(body!);
        pending = [];
        continue;
      }
      if (language !== "sh") continue;
      pending = [];
      for (const item of shellLines(body!)) {
        if ("command" in item) {
          const example: ReadmeExample = { section, command: item.command };
          examples.push(example);
          pending.push(example);
        } else {
          if (!pending.length) throw new Error(`README "${section}": an answer line with no curl command before it`);
          for (const example of pending) example.answer = JSON.parse(item.answer);
          pending = [];
        }
      }
      // a json block answers these commands only when it comes right after this block
      if (!/^\s*```json\n/.test(text.slice(match.index + whole.length))) pending = [];
    }
  }
  return examples;
}

/** Where `actual` differs from `documented` in keys or types ("" when it does not): objects
 * need the same keys, arrays a non-empty answer where the README shows elements (element i is
 * checked against the README's element i, or its last one). */
export function shapeDifference(documented: unknown, actual: unknown, at = "$"): string {
  const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  if (kind(documented) !== kind(actual)) return `${at}: README shows ${kind(documented)}, server sent ${kind(actual)}`;
  if (Array.isArray(documented) && Array.isArray(actual)) {
    if (documented.length && !actual.length) return `${at}: README shows elements, server sent none`;
    for (const [i, item] of actual.entries()) {
      const difference = shapeDifference(documented[Math.min(i, documented.length - 1)], item, `${at}[${i}]`);
      if (documented.length && difference) return difference;
    }
    return "";
  }
  if (kind(documented) !== "object") return "";
  const shown = documented as Record<string, unknown>;
  const sent = actual as Record<string, unknown>;
  const keys = (o: object) => Object.keys(o).sort().join(",");
  if (keys(shown) !== keys(sent)) return `${at}: README shows keys {${keys(shown)}}, server sent {${keys(sent)}}`;
  for (const key of Object.keys(shown)) {
    const difference = shapeDifference(shown[key], sent[key], `${at}.${key}`);
    if (difference) return difference;
  }
  return "";
}

/** Runs a README curl command against the relay at `url` (in `dir`): its HTTP status and body. */
export function runCurl(command: string, url: string, dir: string): { status: number; body: string } {
  const output = path.join(dir, "answer.out");
  const shell = command
    .replaceAll("http://127.0.0.1:8100", url)
    .replace(/^curl /, `curl -sS -o ${output} -w '%{http_code}' `);
  const status = Number(execFileSync("sh", ["-c", shell], { cwd: dir, encoding: "utf8", timeout: 15_000 }));
  return { status, body: fs.readFileSync(output, "utf8") };
}

export interface ReadmeProgram {
  section: string;
  language: "js" | "python";
  code: string;
}

/** The JavaScript and Python examples of the chosen sections, in order. */
export function readmePrograms(file: string, wanted: string[]): ReadmeProgram[] {
  const programs: ReadmeProgram[] = [];
  for (const [section, text] of sections(fs.readFileSync(file, "utf8"))) {
    if (!wanted.includes(section)) continue;
    for (const [, language, code] of text.matchAll(/```(js|python)\n([\s\S]*?)```\n/g))
      programs.push({ section, language: language as ReadmeProgram["language"], code: code! });
  }
  return programs;
}
