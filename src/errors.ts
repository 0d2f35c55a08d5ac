// The one table of error codes: each maps to an HTTP status and the message of the
// `{code, message, data}` envelope. Everything that fails on purpose throws a MailspoolError.

export const errorTable = {
  invalid_param: { status: 400, message: "Param is invalid" },
  unauthorized: { status: 401, message: "Unauthorized" },
  forbidden: { status: 403, message: "Forbidden" },
  not_found: { status: 404, message: "Not found" },
  method_not_allowed: { status: 405, message: "Method not allowed" },
  conflict: { status: 409, message: "Conflict" },
  too_large: { status: 413, message: "Payload too large" },
  unsupported_media_type: { status: 415, message: "Unsupported content type" },
  rate_limited: { status: 429, message: "Too many requests" },
  internal: { status: 500, message: "Internal error" },
  unavailable: { status: 503, message: "Service unavailable" },
  insufficient_storage: { status: 507, message: "Insufficient storage" },
} as const;

export type ErrorCode = keyof typeof errorTable;

export interface FieldError {
  field: string;
  message: string;
}

export class MailspoolError extends Error {
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  /** For 429: seconds until the quota window ends (the Retry-After header). */
  readonly retryAfterSeconds?: number;
  /** For 405: the methods the path takes (the Allow header). */
  readonly allow?: readonly string[];

  constructor(
    code: ErrorCode,
    message?: string,
    options: { errors?: FieldError[]; cause?: unknown; retryAfterSeconds?: number; allow?: readonly string[] } = {},
  ) {
    super(message ?? errorTable[code].message, { cause: options.cause });
    this.name = "MailspoolError";
    this.code = code;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.allow = options.allow;
  }

  get status(): number {
    return errorTable[this.code].status;
  }
}

/** A 400 naming one field. */
export function invalidField(field: string, message: string): MailspoolError {
  return new MailspoolError("invalid_param", undefined, { errors: [{ field, message }] });
}

/** ENOSPC means the disk is full (507); any other I/O failure makes intake unavailable (503). */
export function spoolIoError(cause: unknown): MailspoolError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT")
    return new MailspoolError("insufficient_storage", "Spool disk is full", { cause });
  return new MailspoolError("unavailable", "Spool I/O error", { cause });
}
