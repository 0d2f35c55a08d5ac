// The answers every endpoint shares, as zod schemas: the `{code, message, data}` envelope
// (envelope.ts writes it) and its error form. Each route keeps the schema of its own `data`
// beside its handler and types what it answers by it; openapi.ts turns them into the
// document that GET /openapi.json serves.
import { z } from "zod";

export const mailIdSchema = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/)
  .meta({ description: "Mail id (a ULID)" });

/** A timestamp as the API writes it (Date.toISOString()). */
export const isoTimeSchema = z.iso.datetime();

/** A 200 answer carrying `data`. */
export const successSchema = <T extends z.ZodType>(data: T) =>
  z.object({ code: z.literal(200), message: z.literal("success"), data });

export const fieldErrorSchema = z.object({
  field: z.string().meta({ description: "The field, header or part at fault (`[i].field` in a batch)" }),
  message: z.string(),
});

/** Every refusal: the HTTP status as `code`, and what the client needs to act on it. */
export const errorSchema = z.object({
  code: z.number().int().min(400).max(599),
  message: z.string(),
  data: z.union([
    z.null(),
    z.object({ errors: z.array(fieldErrorSchema) }),
    z.object({ retryAfter: z.number().int().meta({ description: "Seconds until the quota window ends (429)" }) }),
    z.object({ allow: z.array(z.string()).meta({ description: "The methods the path takes (405)" }) }),
  ]),
});
