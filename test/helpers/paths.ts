import { join } from 'node:path';

/** Tests always run from the repository root (npm test, scripts/run-tests.mjs). */
export const repoRoot = process.cwd();

export function repoPath(...parts: string[]): string {
  return join(repoRoot, ...parts);
}
