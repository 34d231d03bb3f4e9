export { CaldError, isCaldError } from './cald-error.js';
export { ElfEditError } from './elf-edit-error.js';
export { ElfFormatError } from './elf-format-error.js';
export { classifyError, IoError, ioErrorFrom } from './io-error.js';
export { NotFoundError } from './not-found-error.js';
export { RemoteError } from './remote-error.js';
export { BadNameError, StoreError, StoreIntegrityError } from './store-error.js';
export { UsageError } from './usage-error.js';
