import { convert } from "html-to-text";
import { describe, expect, it } from "vitest";
import { htmlToText } from "./text-alternative.js";

describe("htmlToText", () => {
  it("gives html-to-text's text (wordwrap 100) for every body, kept or not", () => {
    const bodies = ["<p>Hello <b>there</b></p>", `<h1>Report</h1><p>${"word ".repeat(60)}</p>`, "<p>Hello</p>"];
    for (let round = 0; round < 2; round++)
      for (const html of bodies) expect(htmlToText(html)).toBe(convert(html, { wordwrap: 100 }));
  });

  it("converts a body larger than the whole cache too", () => {
    const html = `<p>${"x".repeat(5 * 1024 * 1024)}</p>`;
    expect(htmlToText(html)).toBe(convert(html, { wordwrap: 100 }));
  });
});
