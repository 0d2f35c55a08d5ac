// Reading app.yaml: every syntax error with its line and column, and the line a key path
// starts on, so a config error points into the file.
import fs from "node:fs";
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ConfigError } from "./config-issues.js";

export interface YamlFile {
  value: Record<string, unknown>;
  /** The line (1-based) of the deepest existing node along `at`. */
  lineOf(at: readonly PropertyKey[]): number | undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function readYaml(file: string): YamlFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw ConfigError.at("config", `cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lines });
  if (doc.errors.length)
    throw new ConfigError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        const where = pos ? `:${pos.line}:${pos.col}` : "";
        const reason = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
        return { keyPath: "config", message: `YAML syntax error in ${file}${where}: ${reason}` };
      }),
    );
  const value: unknown = doc.toJS();
  if (value !== null && value !== undefined && !isPlainObject(value))
    throw ConfigError.at("config", `${file}: the top level must be a mapping of sections (server:, spool:, …)`);
  return { value: value ?? {}, lineOf: (at) => lineOf(doc, lines, at) };
}

function lineOf(doc: Document, lines: LineCounter, at: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const key of at) {
    let next: { start?: number; node: unknown } | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => ((p.key as { value?: unknown } | null)?.value ?? p.key) === key);
      if (pair) next = { start: (pair.key as Node | null)?.range?.[0], node: pair.value };
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      next = { start: (node.items[key] as Node).range?.[0], node: node.items[key] };
    }
    if (!next) break;
    offset = next.start ?? offset;
    node = next.node;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}
