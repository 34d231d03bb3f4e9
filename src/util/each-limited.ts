/**
 * Runs `work` over `items` with at most `limit` at once (transfers to and from a remote). After a
 * failure no new item is started; the first error is thrown once the items already started have
 * settled, so nothing of this call is still running when it fails (a pull indexes what arrived).
 */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (e) {
        failed ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed.error;
}
