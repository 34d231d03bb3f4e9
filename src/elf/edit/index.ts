export { type EditResult, editElf, editParsed } from './edit-elf.js';
export type { EditOptions, ElfEdit } from './edits.js';
