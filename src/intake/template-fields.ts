// `template` + `variables` → the title, content and text the operator's template renders,
// before the one validation of the send fields (build-mail.ts), so the accepted record holds
// the rendered bytes: a replay sends the same mail, and a template edited later changes no
// mail already accepted. A template and explicit body fields never mix: a client sending both
// has a bug, and dropping either silently would send a mail it did not mean; `title` is the
// subject only for a template without <name>.subject.
import { invalidField } from "../errors.js";
import { templateNamePattern, type TemplateSet } from "../templates/template-set.js";
import { maxShortFieldBytes } from "./send-fields.js";

export interface TemplatedFields {
  fields: Record<string, unknown>;
  /** The template's name, kept in the record for the status API. */
  template?: string;
}

export function applyTemplate(
  fields: Record<string, unknown>,
  templates: TemplateSet | null,
  maxBodyBytes: number,
): TemplatedFields {
  const { template: name, variables, ...rest } = fields;
  if (name === undefined) {
    if (variables !== undefined) throw invalidField("variables", "variables are only used with template");
    return { fields };
  }
  if (typeof name !== "string" || !templateNamePattern.test(name))
    throw invalidField("template", "must be a template's name: 1 to 100 letters, digits, _ or - (never a path)");
  if (!templates) throw invalidField("template", "no templates are configured (templates.dir in app.yaml)");
  if (!templates.has(name)) throw invalidField("template", `no template named ${JSON.stringify(name)}`);
  for (const field of ["content", "text"])
    if (rest[field] !== undefined)
      throw invalidField(
        field,
        `not allowed with template: ${name}.html${field === "text" ? " and .txt" : ""} give it`,
      );
  if (rest.title !== undefined && templates.hasSubject(name))
    throw invalidField("title", `not allowed with template ${name}: ${name}.subject gives the subject`);
  const rendered = templates.render(name, parseVariables(variables), maxBodyBytes);
  const out: Record<string, unknown> = { ...rest, content: rendered.html };
  if (rendered.text !== undefined) out.text = rendered.text;
  if (rendered.subject !== undefined) out.title = rendered.subject;
  return { fields: out, template: name };
}

/** A JSON object (in a form field: its JSON text) of at most maxShortFieldBytes. */
function parseVariables(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw invalidField("variables", `must be a JSON object: ${(error as Error).message}`);
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw invalidField("variables", "must be a JSON object (in a form field: its JSON text)");
  const size = Buffer.byteLength(JSON.stringify(parsed));
  if (size > maxShortFieldBytes)
    throw invalidField("variables", `too large: ${size} bytes as JSON (at most ${maxShortFieldBytes})`);
  return parsed as Record<string, unknown>;
}
