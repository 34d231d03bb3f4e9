/**
 * `cald patchelf ...`: a drop-in for patchelf's command line. Placeholder until it is written:
 * it receives every argument after `patchelf` untouched and returns the exit status.
 */
export async function patchelfMain(_args: string[]): Promise<number> {
  process.stderr.write('cald patchelf: not implemented yet\n');
  return 1;
}
