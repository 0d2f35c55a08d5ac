// The limits every way in shares (HTTP and pickup files), from the config.
import type { Config } from "../config.js";
import type { FormLimits } from "./form-parser.js";

export const maxAttachments = 100;
const maxFields = 50;

export function intakeLimits(config: Config): FormLimits {
  return {
    maxBodyBytes: config.server.maxBodyBytes,
    inlineMaxBytes: config.spool.inlineMaxBytes,
    maxFiles: maxAttachments,
    maxFields,
  };
}
