import type { CliIo } from './io.js';

/**
 * A one-line progress bar on stderr for long work, drawn only when stderr is a terminal (silent
 * when piped or in CI, so logs stay clean). Redraws at most every 50 ms.
 */
export function progressBar(
  io: CliIo,
  label: string,
): { update: (done: number, total: number, item: string) => void; done: () => void } {
  const tty = process.stderr.isTTY === true && io.env.CI === undefined;
  let last = 0;
  let drawn = false;
  return {
    update(done, total, item) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 50 && done < total) return;
      last = now;
      const width = 24;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      const name = item.length > 40 ? `…${item.slice(-39)}` : item;
      io.err(
        `\r\x1b[2K${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${name}`,
      );
      drawn = true;
    },
    done() {
      if (drawn) io.err('\r\x1b[2K');
    },
  };
}
