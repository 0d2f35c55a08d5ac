// Reads the bearer token from an Authorization header (RFC 6750 §2.1: `Bearer <token>`).
// Every refusal is a 401 that says what is wrong without echoing what was sent: a token
// pasted without its scheme would otherwise come back in the answer.
import { MailspoolError } from "../errors.js";

const malformed = (detail: string) =>
  new MailspoolError("unauthorized", "malformed Authorization header", {
    errors: [{ field: "Authorization", message: detail }],
  });

/** The presented token; undefined when there is no header at all. */
export function bearerToken(header: string | undefined): string | undefined {
  const value = header?.trim() ?? "";
  if (value === "") return undefined;
  const [scheme = "", ...credentials] = value.split(/[ \t]+/);
  if (scheme.toLowerCase() !== "bearer")
    throw new MailspoolError("unauthorized", "Authorization scheme must be Bearer");
  if (credentials.length === 0) throw malformed('no token after "Bearer"');
  if (credentials.length > 1) throw malformed('expected "Bearer <token>" with one token and no spaces in it');
  return credentials[0];
}
