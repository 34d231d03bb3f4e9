/**
 * Ends the process with `status` once everything written to stdout and stderr has been handed to
 * the kernel.
 *
 * Why not a natural exit: Node 20 was seen (once in three CI runs) to hang for good after a
 * command was done, its event loop empty, in the V8 platform's `DrainTasks` (nodejs/node#54918).
 * `process.exit` skips that drain. Why not `process.exit` at once: a pipe or socket whose reader
 * is slow still holds queued output, which an immediate exit would cut off (seen with a 219 KB
 * `--json` answer over a socketpair). An empty write's callback runs after every earlier write
 * to that stream has completed, so waiting for it on both streams loses nothing.
 */
export async function exitWhenWritten(status: number): Promise<never> {
  await Promise.all([written(process.stdout), written(process.stderr)]);
  process.exit(status);
}

function written(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    // A reader that went away (EPIPE) is handled by the stream's error listener: nothing to wait for.
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}
