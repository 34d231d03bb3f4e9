export type { DynamicEntry, DynamicTable } from './dynamic.js';
export { ElfFile, type Interp, type Region } from './elf-file.js';
export { type ElfHeader, isElf, readHeader } from './header.js';
export { HEAD_SIZE, type LoadHeaders, type RangeSource, readLoadHeaders } from './load-headers.js';
export type { Note } from './notes.js';
export type { ProgramHeader } from './program-headers.js';
export type { SectionHeader } from './sections.js';
export type { VersionDef, VersionNeed, VersionNeedAux } from './versions.js';
