export { type EditResult, editElf } from './edit-elf.js';
export type { EditOptions, ElfEdit } from './edits.js';
