// mailspool template render NAME --vars FILE: previews a template of templates.dir as the
// relay would render it at intake (the same rules and messages as the send API: a missing
// variable exits 1 with the API's 400 text), printing the subject, the text part (derived
// from the HTML as delivery does, when there is no <name>.txt) and the HTML.
import fs from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { ConfigError, loadTemplates } from "../config.js";
import { htmlToText } from "../delivery/text-alternative.js";
import { MailspoolError } from "../errors.js";
import { applyTemplate } from "../intake/template-fields.js";
import { templateNamePattern } from "../templates/template-set.js";
import { loadForCommand, type ConfigOption } from "./context.js";
import { printOut } from "./stdout.js";

function templateName(value: string): string {
  if (!templateNamePattern.test(value))
    throw new InvalidArgumentError("a template's name: 1 to 100 letters, digits, _ or - (never a path)");
  return value;
}

function readVariables(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read --vars ${file}: ${(error as Error).message}`);
  }
}

/** The API's 400 as one line per field: "variables.name: welcome.html uses name …". */
function asApiMessage(error: unknown): unknown {
  if (!(error instanceof MailspoolError) || !error.errors?.length) return error;
  return new Error(error.errors.map((e) => `${e.field}: ${e.message}`).join("\n"));
}

export function registerTemplateCommands(program: Command): void {
  const template = program.command("template").description("the mail templates of templates.dir");
  template
    .command("render")
    .description("render a template with the variables of a JSON file: subject, text and HTML")
    .argument("<name>", "template name (<name>.html in templates.dir)", templateName)
    .option("--vars <file>", "a JSON object of the template's variables")
    .option("-c, --config <file>", "config file (default: $MAILSPOOL_CONFIG, ./app.yaml, embedded default)")
    .action((name: string, options: ConfigOption & { vars?: string }) => {
      const { config } = loadForCommand(options);
      const templates = loadTemplates(config.templates.dir);
      if (Array.isArray(templates)) throw new ConfigError(templates);
      const variables = readVariables(options.vars);
      let fields: Record<string, unknown>;
      try {
        ({ fields } = applyTemplate({ template: name, variables }, templates, config.server.maxBodyBytes));
      } catch (error) {
        throw asApiMessage(error);
      }
      const html = fields.content as string;
      const subject =
        fields.title === undefined ? `(none: no ${name}.subject, the request's title is used)` : fields.title;
      const text = fields.text === undefined ? htmlToText(html) : (fields.text as string);
      const textLabel = fields.text === undefined ? `text (derived from the HTML: no ${name}.txt)` : "text";
      printOut(
        `subject: ${subject as string}\n\n--- ${textLabel} ---\n${text.trimEnd()}\n\n--- html ---\n${html.trimEnd()}\n`,
      );
    });
}
