// The public surface: named exports of the api and errors layers only.
export {
  type DynamicEntryReport,
  type InspectOptions,
  type InspectReport,
  inspect,
  inspectBuffer,
  type Named,
  type NoteReport,
  type SectionReport,
  type SegmentReport,
  type VersionDefReport,
  type VersionNeedReport,
} from './api/index.js';
export { CaldError, ElfEditError, ElfFormatError, IoError, isCaldError, UsageError } from './errors/index.js';
