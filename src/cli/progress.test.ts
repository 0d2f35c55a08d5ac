import { describe, expect, it } from "vitest";
import { startProgress } from "./progress.js";

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe("startProgress", () => {
  it("writes nothing when the stream is not a terminal", () => {
    const out = stream(false);
    const progress = startProgress("replay", 10, out);
    for (let i = 1; i <= 10; i += 1) progress.update(i);
    progress.end();
    expect(out.written).toEqual([]);
  });

  it("draws on one line at most every 100 ms, always the last step, and clears the line at the end", () => {
    const out = stream(true);
    let now = 0;
    const progress = startProgress("replay", 4, out, () => now);
    progress.update(1);
    now = 50;
    progress.update(2);
    now = 150;
    progress.update(3);
    now = 160;
    progress.update(4);
    progress.end();
    expect(out.written).toEqual([
      "\r\x1b[Kreplay 1/4 (25%)",
      "\r\x1b[Kreplay 3/4 (75%)",
      "\r\x1b[Kreplay 4/4 (100%)",
      "\r\x1b[K",
    ]);
  });

  it("takes a total learnt on the way and draws nothing before it has one", () => {
    const out = stream(true);
    const progress = startProgress("fsck", 0, out, () => 0);
    progress.update(1);
    progress.update(2, 8);
    progress.end();
    expect(out.written).toEqual(["\r\x1b[Kfsck 2/8 (25%)", "\r\x1b[K"]);
  });
});
