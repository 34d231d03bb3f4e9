/**
 * The edits the engine can make. A list of them is applied in order to one model of the file,
 * then the file is laid out once, so many edits in one call give one coherent result.
 * All strings are ELF byte strings (util/elf-string.ts).
 */
export type ElfEdit =
  /** Set PT_INTERP's path. */
  | { kind: 'setInterpreter'; path: string }
  /** Set DT_SONAME, adding it when the file has none. */
  | { kind: 'setSoname'; name: string }
  /** Add a DT_NEEDED entry before the existing ones (as patchelf does), unless it is already there. */
  | { kind: 'addNeeded'; name: string }
  /** Remove every DT_NEEDED entry with this name, and its DT_VERNEED record. */
  | { kind: 'removeNeeded'; name: string }
  /** Rename a DT_NEEDED entry, and the DT_VERNEED record's vn_file that names the same library. */
  | { kind: 'replaceNeeded'; from: string; to: string }
  /**
   * Rename or remove the DT_NEEDED entries by position, in one pass: `names[i]` is the new string
   * of the file's i-th DT_NEEDED entry, null removes it. No entry is matched by its string, so one
   * rename's result is never renamed again. Each DT_VERNEED vn_file follows its library's entry;
   * entries with one string must all get one new string, or the edit is refused.
   */
  | { kind: 'setNeeded'; names: ReadonlyArray<string | null> }
  /**
   * Set the library search path. `force` chooses DT_RPATH; otherwise DT_RUNPATH. An existing entry
   * of the other kind is converted, as patchelf does.
   */
  | { kind: 'setSearchPath'; value: string; force?: boolean }
  /** Append directories to the search path (':'-joined), with the same conversion rules. */
  | { kind: 'addSearchPath'; value: string; force?: boolean }
  /** Remove DT_RPATH and DT_RUNPATH. */
  | { kind: 'removeSearchPath' }
  /** Add a dynamic entry; a string value goes into .dynstr (DT_AUDIT, DT_DEPAUDIT...). */
  | { kind: 'addDynamic'; tag: bigint; value: bigint | string }
  /** Set the first entry with this tag, or add one. */
  | { kind: 'setDynamic'; tag: bigint; value: bigint | string }
  /** Remove every dynamic entry with this tag. */
  | { kind: 'removeDynamic'; tag: bigint }
  /** Set e_ident[EI_OSABI]. */
  | { kind: 'setOsAbi'; value: number }
  /** Set or clear bits in DT_FLAGS_1 (added when missing and bits are set). */
  | { kind: 'setFlags1'; set: bigint; clear: bigint }
  /** Set PT_GNU_STACK's executable bit. */
  | { kind: 'setExecStack'; executable: boolean }
  /**
   * Add a note (or replace one an earlier edit added with the same owner and type). Added notes
   * live in their own PT_NOTE in the appended segment; the file's own notes are never touched.
   */
  | { kind: 'setNote'; name: string; type: number; desc: Buffer }
  /** Remove a note an earlier edit added. */
  | { kind: 'removeNote'; name: string; type: number }
  /** Give every dynamic symbol of this name version index VER_NDX_GLOBAL (patchelf --clear-symbol-version). */
  | { kind: 'clearSymbolVersion'; name: string }
  /** Rename dynamic symbols, old name to new (patchelf --rename-dynamic-symbols); hash tables follow. */
  | { kind: 'renameDynamicSymbols'; map: ReadonlyMap<string, string> };

export interface EditOptions {
  /** Page size for a new loadable segment; by default derived from the machine and the file. */
  pageSize?: number;
  /**
   * The caller gives the input buffer, and the whole ArrayBuffer behind it, to the edit: the result
   * is written into that memory (past the input's end too, when it has room) instead of a copy of
   * the whole file. The input's bytes are then undefined, even when the edit fails. Use it with a
   * buffer of one's own (Buffer.allocUnsafeSlow), never a pooled one.
   */
  reuseInput?: boolean;
}
