import { ElfEditError } from '../../errors/index.js';
import {
  DT_FLAGS_1,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRING_TAGS,
  PF_R,
  PF_W,
  PF_X,
} from '../format/constants.js';
import type { ElfEdit } from './edits.js';
import { checkElfString, type EditModel, type ModelEntry } from './model.js';

function needDynamic(m: EditModel, what: string, hasDynamic: boolean): void {
  if (!hasDynamic) {
    throw new ElfEditError(
      'EDIT_NO_DYNAMIC',
      `cannot ${what}: the file has no dynamic section (statically linked?)`,
      {
        hint: 'only dynamically linked programs and shared libraries have these entries',
      },
    );
  }
  void m;
}

function entryFor(tag: bigint, value: bigint | string): ModelEntry {
  if (typeof value === 'string') {
    if (!DT_STRING_TAGS.has(tag)) {
      throw new ElfEditError(
        'EDIT_BAD_VALUE',
        `dynamic tag 0x${tag.toString(16)} takes a number, not a string`,
      );
    }
    checkElfString(value, `value of dynamic tag 0x${tag.toString(16)}`);
    return { tag, value: 0n, str: value };
  }
  if (DT_STRING_TAGS.has(tag)) {
    throw new ElfEditError(
      'EDIT_BAD_VALUE',
      `dynamic tag 0x${tag.toString(16)} takes a string, not a number`,
    );
  }
  return { tag, value };
}

/** Where new entries go: before the first entry that is neither DT_NEEDED nor another string we add. */
function insertAfterNeeded(m: EditModel, e: ModelEntry): void {
  let i = 0;
  while (i < m.entries.length && m.entries[i]!.tag === DT_NEEDED) i++;
  m.entries.splice(i, 0, e);
}

function searchPathEntry(m: EditModel): ModelEntry | undefined {
  return m.entries.find((e) => e.tag === DT_RUNPATH) ?? m.entries.find((e) => e.tag === DT_RPATH);
}

/** patchelf's rules: --force-rpath makes DT_RPATH, otherwise DT_RUNPATH; an existing entry is converted. */
function setSearchPath(m: EditModel, value: string, force: boolean): void {
  checkElfString(value, 'search path');
  const tag = force ? DT_RPATH : DT_RUNPATH;
  const existing = searchPathEntry(m);
  // Keep one entry only: a file with both gets the other removed, as the loader would ignore it anyway.
  m.entries = m.entries.filter((e) => e === existing || (e.tag !== DT_RPATH && e.tag !== DT_RUNPATH));
  if (existing !== undefined) {
    existing.tag = tag;
    existing.str = value;
  } else {
    insertAfterNeeded(m, { tag, value: 0n, str: value });
  }
}

/** DT_NEEDED entries renamed or removed by position (the 'setNeeded' edit), in one pass. */
function setNeeded(m: EditModel, names: ReadonlyArray<string | null>): void {
  const count = m.entries.reduce((n, e) => (e.tag === DT_NEEDED ? n + 1 : n), 0);
  if (names.length !== count) {
    throw new ElfEditError(
      'EDIT_BAD_VALUE',
      `${names.length} new needed names given for ${count} DT_NEEDED entries`,
    );
  }
  const renamed = new Map<string, string | null>();
  const conflicting = new Set<string>();
  let i = 0;
  const entries: ModelEntry[] = [];
  for (const e of m.entries) {
    if (e.tag !== DT_NEEDED) {
      entries.push(e);
      continue;
    }
    const to = names[i++]!;
    const from = e.str ?? '';
    if (to !== null) {
      checkElfString(to, 'needed library name');
      if (to === '') throw new ElfEditError('EDIT_BAD_VALUE', 'a new needed library name is empty');
    }
    if (renamed.has(from) && renamed.get(from) !== to) conflicting.add(from);
    else renamed.set(from, to);
    if (to !== null) entries.push({ ...e, str: to });
  }
  m.entries = entries;
  m.verneedFiles = m.verneedFiles.map((f) => {
    if (f === null || !renamed.has(f)) return f;
    if (conflicting.has(f)) {
      throw new ElfEditError(
        'EDIT_AMBIGUOUS_VERSION',
        `the DT_NEEDED entries named ${f} get different new names, but one version record names them all`,
        { hint: 'give every entry of one library the same new name' },
      );
    }
    return renamed.get(f) ?? null;
  });
}

export function applyEdit(m: EditModel, edit: ElfEdit, hasDynamic: boolean): void {
  switch (edit.kind) {
    case 'setInterpreter':
      if (m.interp === undefined) {
        throw new ElfEditError(
          'EDIT_NO_INTERP',
          'cannot set the interpreter: the file has no PT_INTERP (a shared library or static program)',
          {
            hint: 'only dynamically linked programs have an interpreter',
          },
        );
      }
      checkElfString(edit.path, 'interpreter path');
      if (edit.path === '') throw new ElfEditError('EDIT_BAD_VALUE', 'the interpreter path is empty');
      m.interp = edit.path;
      return;
    case 'setSoname': {
      needDynamic(m, 'set the soname', hasDynamic);
      checkElfString(edit.name, 'soname');
      const e = m.entries.find((x) => x.tag === DT_SONAME);
      if (e !== undefined) e.str = edit.name;
      else insertAfterNeeded(m, { tag: DT_SONAME, value: 0n, str: edit.name });
      return;
    }
    case 'addNeeded': {
      needDynamic(m, 'add a needed library', hasDynamic);
      checkElfString(edit.name, 'needed library name');
      if (edit.name === '') throw new ElfEditError('EDIT_BAD_VALUE', 'the needed library name is empty');
      if (m.entries.some((e) => e.tag === DT_NEEDED && e.str === edit.name)) return;
      // patchelf puts added libraries first, in the order given.
      let i = 0;
      while (i < m.entries.length && m.entries[i]!.tag === DT_NEEDED && m.entries[i]!.added === true) i++;
      m.entries.splice(i, 0, { tag: DT_NEEDED, value: 0n, str: edit.name, added: true });
      return;
    }
    case 'removeNeeded':
      needDynamic(m, 'remove a needed library', hasDynamic);
      m.entries = m.entries.filter((e) => !(e.tag === DT_NEEDED && e.str === edit.name));
      m.verneedFiles = m.verneedFiles.map((f) => (f === edit.name ? null : f));
      return;
    case 'replaceNeeded':
      needDynamic(m, 'replace a needed library', hasDynamic);
      checkElfString(edit.to, 'needed library name');
      if (edit.to === '') throw new ElfEditError('EDIT_BAD_VALUE', 'the new needed library name is empty');
      for (const e of m.entries) if (e.tag === DT_NEEDED && e.str === edit.from) e.str = edit.to;
      m.verneedFiles = m.verneedFiles.map((f) => (f === edit.from ? edit.to : f));
      return;
    case 'setNeeded':
      needDynamic(m, 'set the needed libraries', hasDynamic);
      setNeeded(m, edit.names);
      return;
    case 'setSearchPath':
      needDynamic(m, 'set the search path', hasDynamic);
      setSearchPath(m, edit.value, edit.force === true);
      return;
    case 'addSearchPath': {
      needDynamic(m, 'add to the search path', hasDynamic);
      const old = searchPathEntry(m)?.str;
      setSearchPath(
        m,
        old === undefined || old === '' ? edit.value : `${old}:${edit.value}`,
        edit.force === true,
      );
      return;
    }
    case 'removeSearchPath':
      m.entries = m.entries.filter((e) => e.tag !== DT_RPATH && e.tag !== DT_RUNPATH);
      return;
    case 'addDynamic':
      needDynamic(m, 'add a dynamic entry', hasDynamic);
      insertAfterNeeded(m, entryFor(edit.tag, edit.value));
      return;
    case 'setDynamic': {
      needDynamic(m, 'set a dynamic entry', hasDynamic);
      const e = entryFor(edit.tag, edit.value);
      const at = m.entries.findIndex((x) => x.tag === edit.tag);
      if (at >= 0) m.entries[at] = e;
      else insertAfterNeeded(m, e);
      return;
    }
    case 'removeDynamic':
      m.entries = m.entries.filter((e) => e.tag !== edit.tag);
      return;
    case 'setOsAbi':
      if (!Number.isInteger(edit.value) || edit.value < 0 || edit.value > 255) {
        throw new ElfEditError('EDIT_BAD_VALUE', `OS ABI ${edit.value} is not a byte value`);
      }
      m.osabi = edit.value;
      return;
    case 'setFlags1': {
      const e = m.entries.find((x) => x.tag === DT_FLAGS_1);
      if (e !== undefined) e.value = (e.value | edit.set) & ~edit.clear;
      else if (edit.set !== 0n) {
        needDynamic(m, 'set DT_FLAGS_1', hasDynamic);
        insertAfterNeeded(m, { tag: DT_FLAGS_1, value: edit.set });
      }
      return;
    }
    case 'setNote': {
      checkElfString(edit.name, 'note owner');
      if (!Number.isInteger(edit.type) || edit.type < 0 || edit.type > 0xffffffff) {
        throw new ElfEditError('EDIT_BAD_VALUE', `note type ${edit.type} is not a 32-bit value`);
      }
      const note = { name: edit.name, type: edit.type, desc: Buffer.from(edit.desc) };
      const at = m.notes.findIndex((n) => n.name === edit.name && n.type === edit.type);
      if (at >= 0) m.notes[at] = note;
      else m.notes.push(note);
      return;
    }
    case 'removeNote':
      m.notes = m.notes.filter((n) => !(n.name === edit.name && n.type === edit.type));
      return;
    case 'setExecStack': {
      const base = m.gnuStackFlags ?? PF_R | PF_W;
      m.gnuStackFlags = edit.executable ? base | PF_X : base & ~PF_X;
      return;
    }
  }
}
