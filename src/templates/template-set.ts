// The operator's mail templates (templates.dir): <name>.html, optional <name>.txt and
// <name>.subject, written in Liquid (liquidjs). Loaded and compiled once (start, SIGHUP,
// check-config, `template render`), rendered per mail at intake. Every {{ output }} of the
// HTML part is HTML-escaped (& < > " '; `| raw` is the template author's explicit way out);
// text and subject are plain text. A variable the template uses and the request does not give
// is an error naming it (strictVariables; `{% if x %}` and `| default:` make one optional).
// Liquid runs no code from template text, and templates read no files: `{% render %}` sees
// only this directory's own template files, loaded with the rest.
import fs from "node:fs";
import path from "node:path";
import { Liquid, UndefinedVariableError, type Template } from "liquidjs";
import { invalidField } from "../errors.js";
import { decodeUtf8 } from "../utf8.js";

export const templateNamePattern = /^[A-Za-z0-9_-]{1,100}$/;
const templateFile = /^([A-Za-z0-9_-]{1,100})\.(html|txt|subject)$/;
/** Rendering longer than this is a runaway loop, not a mail. */
const renderLimitMs = 2000;
export const maxSubjectLength = 998;

export interface RenderedTemplate {
  subject?: string;
  html: string;
  text?: string;
}

interface Compiled {
  html: Template[];
  text?: Template[];
  subject?: Template[];
}

const engine = (files: Record<string, string>, escapeHtml: boolean) =>
  new Liquid({
    templates: files,
    strictVariables: true,
    strictFilters: true,
    lenientIf: true,
    ownPropertyOnly: true,
    renderLimit: renderLimitMs,
    ...(escapeHtml ? { outputEscape: "escape" as const } : {}),
  });

export class TemplateSet {
  private constructor(
    readonly dir: string,
    private readonly compiled: ReadonlyMap<string, Compiled>,
    private readonly htmlEngine: Liquid,
    private readonly plainEngine: Liquid,
  ) {}

  /** Reads and compiles every template of `dir`; each problem names its file. */
  static load(dir: string): TemplateSet | { problems: string[] } {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      return { problems: [`cannot read the directory ${dir}: ${(error as Error).message}`] };
    }
    const files: Record<string, string> = {};
    const problems: string[] = [];
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!templateFile.test(entry.name)) continue;
      const text = readTemplateFile(path.join(dir, entry.name));
      if (text === undefined) continue;
      if (typeof text !== "string") problems.push(`${entry.name}: ${text.problem}`);
      // a subject file's final newline is the editor's, not the subject's
      else files[entry.name] = entry.name.endsWith(".subject") ? text.trim() : text;
    }
    const htmlEngine = engine(files, true);
    const plainEngine = engine(files, false);
    const parse = (file: string, liquid: Liquid) => {
      try {
        return liquid.parse(files[file]!, file);
      } catch (error) {
        problems.push(`${file}: ${(error as Error).message}`);
        return [];
      }
    };
    const compiled = new Map<string, Compiled>();
    for (const file of Object.keys(files).sort()) {
      const [, name, part] = templateFile.exec(file)!;
      if (part !== "html") {
        if (!Object.hasOwn(files, `${name}.html`)) problems.push(`${file}: there is no ${name}.html beside it`);
        continue;
      }
      const template: Compiled = { html: parse(file, htmlEngine) };
      if (Object.hasOwn(files, `${name}.txt`)) template.text = parse(`${name}.txt`, plainEngine);
      if (Object.hasOwn(files, `${name}.subject`)) {
        if (/[\r\n]/.test(files[`${name}.subject`]!)) problems.push(`${name}.subject: must be one line`);
        template.subject = parse(`${name}.subject`, plainEngine);
      }
      compiled.set(name!, template);
    }
    if (problems.length) return { problems };
    return new TemplateSet(dir, compiled, htmlEngine, plainEngine);
  }

  get names(): string[] {
    return [...this.compiled.keys()];
  }

  /** "welcome (.html .txt .subject)" per template: what check-config and SIGHUP report. */
  get summary(): string[] {
    return [...this.compiled].map(
      ([name, t]) => `${name} (.html${t.text ? " .txt" : ""}${t.subject ? " .subject" : ""})`,
    );
  }

  has(name: string): boolean {
    return this.compiled.has(name);
  }

  hasSubject(name: string): boolean {
    return this.compiled.get(name)?.subject !== undefined;
  }

  /** The template's parts for these variables; a 400 naming `template` or `variables.<name>` when it cannot be. */
  render(name: string, variables: Record<string, unknown>, maxBytes: number): RenderedTemplate {
    const template = this.compiled.get(name);
    if (!template) throw invalidField("template", `no template named ${JSON.stringify(name)} in templates.dir`);
    const run = (liquid: Liquid, parsed: Template[], file: string) => {
      try {
        return liquid.renderSync(parsed, variables);
      } catch (error) {
        throw renderProblem(error, file);
      }
    };
    const rendered: RenderedTemplate = { html: run(this.htmlEngine, template.html, `${name}.html`) };
    if (template.text) rendered.text = run(this.plainEngine, template.text, `${name}.txt`);
    if (template.subject) rendered.subject = run(this.plainEngine, template.subject, `${name}.subject`);
    checkRendered(name, rendered, variables, maxBytes);
    return rendered;
  }
}

/** A regular file's UTF-8 text (links followed); undefined for anything else (a directory, a FIFO, …). */
function readTemplateFile(file: string): string | { problem: string } | undefined {
  try {
    if (!fs.statSync(file).isFile()) return undefined;
    const text = decodeUtf8(fs.readFileSync(file));
    return text ?? { problem: "not UTF-8 text" };
  } catch (error) {
    return { problem: `cannot read it: ${(error as Error).message}` };
  }
}

function renderProblem(error: unknown, file: string): Error {
  const message = (error as Error).message;
  if (error instanceof UndefinedVariableError) {
    const variable = /^undefined variable: (.+?), line:(\d+)/.exec(message);
    if (variable)
      return invalidField(
        `variables.${variable[1]}`,
        `${file} uses ${variable[1]} (line ${variable[2]}), which variables does not give`,
      );
  }
  return invalidField("template", `${file} could not be rendered: ${message}`);
}

function checkRendered(
  name: string,
  rendered: RenderedTemplate,
  variables: Record<string, unknown>,
  maxBytes: number,
): void {
  const size = Buffer.byteLength(rendered.html) + Buffer.byteLength(rendered.text ?? "");
  if (size > maxBytes)
    throw invalidField("variables", `the rendered mail is ${size} bytes, more than server.maxBodyBytes (${maxBytes})`);
  if (rendered.html.trim() === "") throw invalidField("template", `${name}.html rendered to nothing`);
  const { subject } = rendered;
  if (subject === undefined) return;
  if (/[\r\n\0]/.test(subject)) {
    const culprit = pathOfLineBreak(variables);
    throw invalidField(
      culprit ? `variables.${culprit}` : "template",
      `${name}.subject rendered to a subject with CR, LF or NUL, which a header cannot hold`,
    );
  }
  if (subject.trim() === "") throw invalidField("template", `${name}.subject rendered to an empty subject`);
  if (subject.length > maxSubjectLength)
    throw invalidField("template", `${name}.subject rendered to more than ${maxSubjectLength} characters`);
}

/** The path of the first string among the variables that holds CR, LF or NUL (iterative: no depth limit). */
function pathOfLineBreak(variables: Record<string, unknown>): string | undefined {
  const stack: [string, unknown][] = Object.entries(variables).reverse();
  while (stack.length) {
    const [at, value] = stack.pop()!;
    if (typeof value === "string" && /[\r\n\0]/.test(value)) return at;
    if (typeof value === "object" && value !== null)
      for (const [key, inner] of Object.entries(value).reverse())
        stack.push([Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`, inner]);
  }
  return undefined;
}
