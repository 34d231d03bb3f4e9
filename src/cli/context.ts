import type { Command } from 'commander';
import type { CliIo } from './io.js';

/** What a command's registration gets: where to write, and where to leave its exit status. */
export interface CommandContext {
  io: CliIo;
  /** The status main() returns once the command's action has finished. */
  setStatus(status: number): void;
}

/** Each file in commands/ exports one of these; main() calls them in order. */
export type RegisterCommand = (program: Command, ctx: CommandContext) => void;
