// Progress of long CLI work (replay/cancel of many mails, fsck of a large spool) on one
// stderr line, redrawn at most every 100 ms: only when stderr is a terminal, so piped or
// redirected output never holds carriage returns. The line is cleared when the work ends,
// leaving the command's own summary as the last word.
export interface Progress {
  /** `done` of the total so far (a total learnt on the way may be given). */
  update(done: number, total?: number): void;
  /** Clears the line; the command prints its own summary. */
  end(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

const redrawEveryMs = 100;
const silent: Progress = { update: () => undefined, end: () => undefined };

export function startProgress(
  label: string,
  total = 0,
  stream: ProgressStream = process.stderr,
  now: () => number = Date.now,
): Progress {
  if (!stream.isTTY) return silent;
  let drawnAt = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(done, newTotal) {
      total = newTotal ?? total;
      if (total <= 0 || (now() - drawnAt < redrawEveryMs && done < total)) return;
      drawnAt = now();
      drawn = true;
      const percent = Math.floor((Math.min(done, total) / total) * 100);
      stream.write(`\r\x1b[K${label} ${done}/${total} (${percent}%)`);
    },
    end() {
      if (drawn) stream.write("\r\x1b[K");
      drawn = false;
    },
  };
}
