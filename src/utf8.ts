// Strict UTF-8 for everything read from outside (bodies, part headers, field values, file
// names): invalid bytes are refused, never turned into U+FFFD. A byte-order mark is kept as
// a character; a caller that allows one strips it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text, or null when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}
