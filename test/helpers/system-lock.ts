// A lock shared by test processes (node --test runs files in parallel) around machine-wide state:
// e.g. /usr/local/lib/libcald-audit.so, which several suites install and remove.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the named lock (a directory made atomically under /tmp), waiting while another live test
 * process holds it; a lock left by a dead process is taken over. Returns the release function.
 */
export async function acquireSystemLock(name: string, timeoutMs = 10 * 60_000): Promise<() => void> {
  const dir = `/tmp/cald-test-lock-${name}`;
  const owner = join(dir, 'pid');
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(owner, String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = Number.NaN;
    try {
      pid = Number(readFileSync(owner, 'utf8'));
    } catch {}
    // A holder that died (or never wrote its pid for a second) leaves a stale lock.
    if ((Number.isInteger(pid) && !alive(pid)) || (Number.isNaN(pid) && Date.now() - started > 1000)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out waiting for test lock ${dir} (held by ${pid})`);
    await sleep(50);
  }
}
