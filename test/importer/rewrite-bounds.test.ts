// The pieces the importer leans on for hostile files (issue 14): DT_NEEDED set by position in one
// pass (checked with readelf), notes read once per region and capped, strings looked up inside
// their table only.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { editElf } from '../../src/elf/edit/index.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { MAX_NOTES, readNotes } from '../../src/elf/read/notes.js';
import { MAX_STRING, StringTable } from '../../src/elf/read/string-table.js';
import { ElfEditError, ElfFormatError } from '../../src/errors/index.js';
import { ByteView } from '../../src/util/byte-view.js';
import { runOk } from '../helpers/run.js';
import { withTmp } from '../helpers/tmp.js';

/** readelf's view of a buffer's DT_NEEDED and version-needs files. */
async function readelfNeeded(buf: Buffer): Promise<{ needed: string[]; verneed: string[] }> {
  return withTmp((dir) => {
    const p = `${dir}/f`;
    writeFileSync(p, buf);
    const out = runOk('readelf', ['-dVW', p]).stdout;
    return {
      needed: [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]$/gm)].map((m) => m[1]!),
      verneed: [...out.matchAll(/File: (\S+)\s+Cnt:/g)].map((m) => m[1]!),
    };
  }, 'rewrite-bounds');
}

describe('setNeeded: DT_NEEDED by position, one pass', () => {
  const git = readFileSync('/usr/bin/git');
  const before = ElfFile.parse(git).needed;

  test('each entry gets its own new name; a new name equal to a later old name is not renamed again', async () => {
    assert.ok(before.length >= 2, 'git needs several libraries');
    // Entry 0 becomes the old name of entry 1, entry 1 becomes something else: a by-string,
    // in-sequence rename would have turned both into the last name.
    const names = before.map((n, i) => (i === 0 ? before[1]! : `x-${n}`));
    const out = editElf(git, [{ kind: 'setNeeded', names }]).buffer;
    const got = await readelfNeeded(out);
    assert.deepEqual(got.needed, names);
    // Version needs follow their library's entry.
    for (const f of got.verneed) assert.ok(names.includes(f), `vn_file ${f} names no DT_NEEDED`);
  });

  test('null removes an entry; a count that does not match, or one library given two names, is refused', async () => {
    const names = before.map((n, i) => (i === 0 ? null : n));
    const got = await readelfNeeded(editElf(git, [{ kind: 'setNeeded', names }]).buffer);
    assert.deepEqual(got.needed, before.slice(1));
    assert.throws(() => editElf(git, [{ kind: 'setNeeded', names: before.slice(1) }]), ElfEditError);
  });
});

describe('notes and strings are bounded', () => {
  test('notes: a region over zeros gives at most MAX_NOTES, then ELF_TOO_MANY_NOTES', () => {
    const zeros = Buffer.alloc(12 * 100);
    const view = new ByteView(zeros, true, true);
    assert.equal(readNotes(view, 0, zeros.length, 4).length, 100);
    assert.throws(
      () => readNotes(view, 0, zeros.length, 4, 99),
      (e: unknown) => e instanceof ElfFormatError && e.code === 'ELF_TOO_MANY_NOTES',
    );
    assert.ok(MAX_NOTES >= 4096, 'real core files hold thousands of notes');
  });

  test('a string table without NUL: lookups end at the table, scan at most MAX_STRING bytes, once per offset', () => {
    const buf = Buffer.concat([Buffer.alloc(8, 0x41), Buffer.from('tail\0')]);
    const t = new StringTable(buf, 0, 8); // the NUL after the table must not be found
    assert.equal(t.at(0), undefined);
    assert.equal(t.at(8), undefined);
    const t2 = new StringTable(buf, 0, buf.length);
    assert.equal(t2.at(4), 'AAAAtail');
    const long = Buffer.concat([Buffer.alloc(MAX_STRING + 1, 0x41), Buffer.from([0])]);
    assert.equal(new StringTable(long, 0, long.length).at(0), undefined);
    assert.equal(new StringTable(long, 0, long.length).at(2)?.length, MAX_STRING - 1);
  });
});
