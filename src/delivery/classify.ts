// Classification of an SMTP failure by reply code and stage (SPEC "classification"),
// never by reply text. The only text ever read is a retry-delay hint in a 4xx reply.

export type FailureKind =
  /** 5xx at or after DATA: every recipient of the envelope failed for good. */
  | "envelope-permanent"
  /** Connection, timeout, TLS, 4xx anywhere, 5xx at greeting/EHLO/AUTH/MAIL FROM: try the next upstream. */
  | "upstream";

export interface SmtpFailure {
  kind: FailureKind;
  code: number;
  response: string;
  command: string;
}

interface NodemailerError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

export function classifyError(error: unknown): SmtpFailure {
  const e = (error ?? {}) as NodemailerError;
  const code = typeof e.responseCode === "number" ? e.responseCode : 0;
  const command = e.command ?? e.code ?? "CONN";
  const response = e.response ?? `${e.code ?? "ERROR"} ${e.message ?? ""}`.trim();
  const kind: FailureKind = code >= 500 && command === "DATA" ? "envelope-permanent" : "upstream";
  return { kind, code, response, command };
}

/** A recipient rejected at RCPT TO: 5xx is permanent for that recipient, 4xx is worth another upstream. */
export function recipientRejectionIsPermanent(code: number): boolean {
  return code >= 500;
}

const units: Record<string, number> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hour: 3600,
  hours: 3600,
};

/** "try again in 60 seconds" → 60; only for 4xx replies; null when there is no hint. */
export function retryHintSeconds(code: number, response: string): number | null {
  if (code < 400 || code >= 500) return null;
  const match = /\b(?:in|after|wait)\s+(\d{1,6})\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|h)\b/i.exec(response);
  if (!match) return null;
  return Number(match[1]) * (units[match[2]!.toLowerCase()] ?? 1);
}
