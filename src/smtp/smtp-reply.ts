// SMTP replies of the intake listener and how a failure becomes one: what the client sent
// wrong is permanent (5xx, so it does not retry forever), what may pass is transient (4xx).
// smtp-server adds no enhanced status codes of its own (hideENHANCEDSTATUSCODES is its
// default), so each of our texts starts with the RFC 3463 code that fits it.
import { MailspoolError, spoolIoError } from "../errors.js";

export type SmtpReply = Error & { responseCode: number };

export const smtpReply = (code: number, message: string): SmtpReply =>
  Object.assign(new Error(message), { responseCode: code });

export const isSmtpReply = (error: unknown): error is SmtpReply =>
  error instanceof Error && typeof (error as Partial<SmtpReply>).responseCode === "number";

/** Node's errno codes of a failed read, write or fsync: the spool's trouble, not the client's. */
const isIoError = (error: unknown) => typeof (error as NodeJS.ErrnoException | undefined)?.syscall === "string";

/** smtp-server ends the DATA stream with these when the client goes away mid-message. */
const clientLeft = (error: unknown) =>
  ["ECONNECTION", "ERR_STREAM_PREMATURE_CLOSE"].includes(String((error as { code?: unknown } | undefined)?.code));

/** A failure as the reply to the final dot of DATA; `unexpected` says it needs an error log line. */
export function replyFor(error: unknown): { reply: SmtpReply; unexpected: boolean } {
  if (isSmtpReply(error)) return { reply: error, unexpected: false };
  if (clientLeft(error)) return { reply: smtpReply(421, "4.4.2 Connection closed during DATA"), unexpected: false };
  if (!(error instanceof MailspoolError) && isIoError(error)) return replyFor(spoolIoError(error));
  if (!(error instanceof MailspoolError))
    return { reply: smtpReply(451, "4.3.0 Temporary failure, try again later"), unexpected: true };
  if (error.code === "rate_limited")
    return {
      reply: smtpReply(451, `4.7.1 ${error.message}; retry in ${error.retryAfterSeconds ?? 60} seconds`),
      unexpected: false,
    };
  if (error.code === "insufficient_storage")
    return { reply: smtpReply(452, "4.3.1 Insufficient system storage"), unexpected: false };
  if (error.status < 500) return { reply: smtpReply(554, `5.6.0 ${describe(error)}`), unexpected: false };
  return { reply: smtpReply(451, "4.3.0 Temporary failure, try again later"), unexpected: false };
}

/** The message and the fields it names, as one bounded line. */
function describe(error: MailspoolError): string {
  const details = (error.errors ?? []).map((e) => `${e.field} ${e.message}`).join("; ");
  return (details ? `${error.message}: ${details}` : error.message).slice(0, 300);
}
