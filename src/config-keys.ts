// "did you mean `allow`?": the keys the schema knows at a path of app.yaml, and the closest
// one to a misspelt key. Reads the zod schema's own structure, so a new key is known the
// moment it is added to config-schema.ts.
import { closestMatch } from "leven";
import type { z } from "zod";
import { configSchema } from "./config-schema.js";

interface SchemaDef {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  out?: z.core.$ZodType;
  element?: z.core.$ZodType;
}

const defOf = (schema: z.core.$ZodType) => schema._zod.def as unknown as SchemaDef;

/** The schema under wrappers (defaults, optional, preprocess and transform pipes) that has `want`. */
function unwrap(schema: z.core.$ZodType | undefined, want: "shape" | "element"): SchemaDef | undefined {
  if (!schema) return undefined;
  const def = defOf(schema);
  if (def[want]) return def;
  return unwrap(def.innerType, want) ?? unwrap(def.in, want) ?? unwrap(def.out, want);
}

/** The keys of the mapping at `at` (numbers index lists), or [] where the schema has no mapping. */
export function knownKeys(at: readonly PropertyKey[], root: z.core.$ZodType = configSchema): string[] {
  let schema: z.core.$ZodType | undefined = root;
  for (const key of at) {
    schema =
      typeof key === "number" ? unwrap(schema, "element")?.element : unwrap(schema, "shape")?.shape?.[String(key)];
    if (!schema) return [];
  }
  return Object.keys(unwrap(schema, "shape")?.shape ?? {});
}

/** The known key closest to `key` (case ignored), when within about a third of its length; else undefined. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
  const maxDistance = Math.max(1, Math.floor(key.length / 3));
  const match = closestMatch(key.toLowerCase(), [...byLower.keys()], { maxDistance });
  return match === undefined ? undefined : byLower.get(match);
}
