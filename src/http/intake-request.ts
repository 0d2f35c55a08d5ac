// What the two intake routes (send, batch) settle before reading a body: intake is open
// (503 while shutting down, 507 below the disk reserve), who the client is, and its
// Idempotency-Key scoped to it.
import type { Context } from "hono";
import { MailspoolError } from "../errors.js";
import { scopedKey } from "../intake/idempotency.js";
import type { AppDeps } from "./app.js";
import { clientId, type AppEnv } from "./app-env.js";

export function openIntake(c: Context<AppEnv>, { gate, spool }: Pick<AppDeps, "gate" | "spool">) {
  if (!gate.accepting) throw new MailspoolError("unavailable", "Shutting down");
  const refusal = gate.refusal?.();
  if (refusal) throw new MailspoolError("unavailable", `Cannot take mail: ${refusal}`);
  spool.checkCapacity();
  const started = performance.now();
  const client = clientId(c.get("client"));
  const header = c.req.header("idempotency-key");
  return { started, client, key: header === undefined ? undefined : scopedKey(client, header) };
}
