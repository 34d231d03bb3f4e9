/** Entry point of the `cald` command. Returns the process exit status. */
export async function main(argv: string[]): Promise<number> {
  console.log(`cald: ${argv.join(' ')}`);
  return 0;
}
