// ULIDs (mail ids, request ids) without the per-character cost of the `ulid` package,
// which asks crypto.getRandomValues once per character (16 calls per id). Same format:
// 10 Crockford base32 characters of the millisecond time, then 16 of randomness (80 bits)
// from the same cryptographic source, drawn in blocks. `ulid`'s decodeTime reads them.
import { randomFillSync } from "node:crypto";

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const pool = Buffer.alloc(4096);
let used = pool.length;

export function newUlid(now = Date.now()): string {
  let time = "";
  for (let i = 0, t = now; i < 10; i++, t = Math.floor(t / 32)) time = alphabet[t % 32]! + time;
  if (used + 16 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let random = "";
  // 256 is a multiple of 32: the low 5 bits of a uniform byte are uniform
  for (let i = 0; i < 16; i++) random += alphabet[pool[used + i]! & 31]!;
  used += 16;
  return time + random;
}
