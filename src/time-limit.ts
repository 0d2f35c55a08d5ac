// Waiting on work that may never end (a hung socket, a stuck read or fsync) without
// being held by it: the work goes on, the caller stops waiting.

/** Resolves true once `work` settles (fulfilled or rejected), false when `ms` passes first. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([settled, expired]);
  } finally {
    clearTimeout(timer);
  }
}
