// The Hono environment shared by the app and its middleware: what the runtime edge
// passes in (the socket's address) and what middleware sets for handlers.
import type { TokenScope } from "../config-schema.js";
import type { ClientAddress } from "./client-address.js";

export interface Client extends ClientAddress {
  /** The bearer token's name when one was presented. */
  tokenName?: string;
  /** That token's scopes; undefined = not limited by scopes: no token is configured (addresses
   * alone decide), or a loopback call to a path that needs no token (/health, /metrics). */
  scopes?: readonly TokenScope[];
}

export interface AppEnv {
  Bindings: { remoteAddress?: string };
  Variables: { client: Client; requestId: string };
}

/** The identity quotas, idempotency and records use: token name, else IP. */
export function clientId(client: Client): string {
  return client.tokenName ? `token:${client.tokenName}` : `ip:${client.ip}`;
}
