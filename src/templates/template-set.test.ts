// The compiled templates: whatever a (hostile) variable holds, the HTML part carries it
// escaped at every output position, and text and subject carry it as written.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tmpDir } from "../../test/helpers/tmp-dir.js";
import { TemplateSet } from "./template-set.js";

// the templates directory, and beside it a file no template may reach
const root = tmpDir("mailspool-templates-");
const dir = path.join(root, "templates");
fs.writeFileSync(path.join(root, "outside.html"), "secret");

function load(files: Record<string, string>): TemplateSet {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const set = TemplateSet.load(dir);
  if (!(set instanceof TemplateSet)) throw new Error(set.problems.join("\n"));
  return set;
}

/** A run of escaped text: no raw < > " ' and every & starts an entity. */
const escapedRun = `((?:[^<>"'&]|&(?:amp|lt|gt|#34|#39);)*)`;
const unescape = (s: string) =>
  s.replace(/&(amp|lt|gt|#34|#39);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", "#34": '"', "#39": "'" })[e]!);

const hostile = fc.oneof(
  fc.string({ unit: fc.constantFrom("<", ">", '"', "'", "&", "a", " ", "&amp;", "<script>", "{{ x }}", "\n") }),
  fc.string({ unit: "binary" }),
);

describe("TemplateSet", () => {
  it("HTML outputs never carry a variable's < > \" ' & unescaped; text and subject carry it as sent (generated)", () => {
    const set = load({
      "page.html": `<p title="{{ a }}">{{ a }}</p><ul>{% for x in list %}<li>{{ x }}</li>{% endfor %}</ul><b>{{ o.k | upcase }}</b>`,
      "page.txt": "{{ a }}|{{ o.k }}",
      "page.subject": "Re: {{ o.k }}\n",
    });
    const shape = new RegExp(`^<p title="${escapedRun}">${escapedRun}</p><ul>(.*)</ul><b>${escapedRun}</b>$`, "s");
    fc.assert(
      fc.property(hostile, fc.array(hostile, { maxLength: 4 }), hostile, (a, list, k) => {
        const subjectSafe = k.replace(/[\r\n\0]/g, " ");
        const out = set.render("page", { a, list, o: { k: subjectSafe } }, 1 << 20);
        const match = shape.exec(out.html);
        expect(match, out.html).not.toBeNull();
        expect(unescape(match![1]!)).toBe(a);
        expect(unescape(match![2]!)).toBe(a);
        expect(unescape(match![4]!)).toBe(subjectSafe.toUpperCase());
        const items = [...match![3]!.matchAll(new RegExp(`<li>${escapedRun}</li>`, "g"))].map((m) => unescape(m[1]!));
        expect(items).toEqual(list);
        expect(out.text).toBe(`${a}|${subjectSafe}`);
        expect(out.subject).toBe(`Re: ${subjectSafe}`);
      }),
      { numRuns: 300 },
    );
  });

  it("a missing variable names its path; `{% if %}` and `| default` make one optional", () => {
    const set = load({ "w.html": "{{ user.name }}{% if extra %}{{ extra }}{% endif %}{{ plan | default: 'free' }}" });
    expect(set.render("w", { user: { name: "Ann" } }, 1000).html).toBe("Annfree");
    expect(() => set.render("w", { user: {} }, 1000)).toThrowError(
      expect.objectContaining({
        errors: [{ field: "variables.user.name", message: expect.stringContaining("w.html") }],
      }),
    );
  });

  it("looks up own properties only: a variable object's prototype is not reachable", () => {
    const set = load({ "w.html": "{{ o.constructor }}" });
    expect(() => set.render("w", { o: {} }, 1000)).toThrowError(
      expect.objectContaining({ errors: [expect.objectContaining({ field: "variables.o.constructor" })] }),
    );
  });

  it("a subject a variable breaks into lines is refused naming that variable", () => {
    const set = load({ "w.html": "x", "w.subject": "Hi {{ who.name }}" });
    expect(() => set.render("w", { who: { name: "a\r\nBcc: x@example.com" } }, 1000)).toThrowError(
      expect.objectContaining({ errors: [expect.objectContaining({ field: "variables.who.name" })] }),
    );
  });

  it("{% render %} sees the directory's templates only, never another file", () => {
    const set = load({
      "w.html": "{% render 'footer.html', n: n %}",
      "footer.html": "<i>{{ n }}</i>",
      "x.html": "{% render '../outside.html' %}",
    });
    expect(set.render("w", { n: "<" }, 1000).html).toBe("<i>&lt;</i>");
    expect(() => set.render("x", {}, 1000)).toThrowError(
      expect.objectContaining({ errors: [expect.objectContaining({ field: "template" })] }),
    );
  });

  it("reports every file that is not UTF-8 or does not compile, and a .txt or .subject without its .html; skips directories", () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "a.html"), "{% if x %}");
    fs.writeFileSync(path.join(dir, "b.html"), "{{ x | nosuchfilter }}");
    fs.writeFileSync(path.join(dir, "c.subject"), "hi");
    fs.writeFileSync(path.join(dir, "d.html"), Buffer.from([0x3c, 0x70, 0x3e, 0xe9]));
    fs.mkdirSync(path.join(dir, "e.html"));
    fs.writeFileSync(path.join(dir, "notes.md"), "ignored");
    const result = TemplateSet.load(dir);
    expect(result).not.toBeInstanceOf(TemplateSet);
    expect((result as { problems: string[] }).problems).toEqual([
      "d.html: not UTF-8 text",
      expect.stringMatching(/^a\.html: tag \{% if x %\} not closed/),
      expect.stringMatching(/^b\.html: undefined filter: nosuchfilter/),
      "c.subject: there is no c.html beside it",
    ]);
  });
});
