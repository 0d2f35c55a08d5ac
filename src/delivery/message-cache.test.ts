import { expect, it } from "vitest";
import { MessageCache } from "./message-cache.js";

it("keeps messages up to its byte budget, evicting the least recently used", () => {
  const cache = new MessageCache(10);
  cache.set("a", Buffer.alloc(4));
  cache.set("b", Buffer.alloc(4));
  expect(cache.get("a")?.length).toBe(4);
  cache.set("c", Buffer.alloc(4));
  expect(cache.get("b")).toBeUndefined();
  expect(cache.get("a")).toBeDefined();
  expect(cache.get("c")).toBeDefined();
  cache.set("huge", Buffer.alloc(11));
  expect(cache.get("huge")).toBeUndefined();
  cache.delete("a");
  expect(cache.size).toBe(1);
});
