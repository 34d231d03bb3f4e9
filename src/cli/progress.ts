import type { CliIo } from './io.js';

/**
 * A one-line progress bar on stderr for long work, drawn only when stderr is a terminal (silent
 * when piped or in CI, so logs stay clean). Redraws at most every 50 ms. The line is redrawn with
 * a carriage return and cleared with spaces, not with an escape sequence: nothing cald writes has
 * an ANSI escape under NO_COLOR or on a dumb terminal, and this works on every terminal.
 */
export function progressBar(
  io: CliIo,
  label: string,
): { update: (done: number, total: number, item: string) => void; done: () => void } {
  const tty = io.errIsTty === true && io.env.CI === undefined;
  let last = 0;
  /** How much of the line is written on screen: a shorter redraw and done() blank it with spaces. */
  let shown = 0;
  return {
    update(done, total, item) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 50 && done < total) return;
      last = now;
      const width = 24;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      const name = item.length > 40 ? `…${item.slice(-39)}` : item;
      const line = `${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${name}`;
      io.err(`\r${line}${' '.repeat(Math.max(0, shown - line.length))}`);
      shown = Math.max(shown, line.length);
    },
    done() {
      if (shown > 0) io.err(`\r${' '.repeat(shown)}\r`);
      shown = 0;
    },
  };
}
