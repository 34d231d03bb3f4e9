// The public surface: named exports of the api and errors layers only.
export { CaldError, ElfEditError, ElfFormatError, IoError, isCaldError, UsageError } from './errors/index.js';
