/**
 * Ends the process with `status` once everything written to stdout and stderr has been handed to
 * the kernel.
 *
 * Why this and not a natural exit: a queued write to a slow reader must not be cut off, and an
 * empty write's callback runs only after every earlier write to that stream has completed.
 *
 * Why bin/cald.js runs node with --no-concurrent-recompilation: in CI a `cald gc` hung for good
 * after its work, once by a natural exit (in the platform's DrainTasks) and once by process.exit
 * (joining V8's worker threads in NodePlatform::Shutdown). gdb showed the same cause both times: an
 * optimizing compile job on a worker thread waiting in CollectionBarrier::AwaitCollectionBackground
 * for a garbage collection that the exiting main thread never makes (nodejs/node#54918). With
 * optimization on the main thread there is no such job (measured: the same CPU time for an
 * import of ffmpeg). The flag must be on node's command line: NODE_OPTIONS refuses it, and
 * v8.setFlagsFromString is read too late (the compile dispatcher is made at start-up).
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
