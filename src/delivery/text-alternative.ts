// The text part of a mail sent without one: its HTML converted by html-to-text. Mails of one
// campaign share their body and converting costs more than the rest of composing, so texts
// are kept by HTML body, bounded (by characters of HTML and text, least recently used out).
import { compile } from "html-to-text";

/** Compiled once: html-to-text's convert() rebuilds its selector tables on every call. */
const convert = compile({ wordwrap: 100 });

const maxChars = 4 * 1024 * 1024;
const texts = new Map<string, string>();
let chars = 0;

export function htmlToText(html: string): string {
  const kept = texts.get(html);
  if (kept !== undefined) {
    texts.delete(html);
    texts.set(html, kept);
    return kept;
  }
  const text = convert(html);
  const size = html.length + text.length;
  if (size > maxChars) return text;
  texts.set(html, text);
  chars += size;
  for (const [oldest, oldText] of texts) {
    if (chars <= maxChars) break;
    texts.delete(oldest);
    chars -= oldest.length + oldText.length;
  }
  return text;
}
