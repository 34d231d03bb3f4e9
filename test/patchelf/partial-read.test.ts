// patchFile reads a large file without its code and data (api/read-tables.ts) and writes only the
// ranges the edit wrote over a kernel copy of it (replaceFilePatched). Both must give exactly the
// file an edit of the whole file gives, or refuse a read they lack (ELF_NOT_READ) and read it all.
import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { patchFile } from '../../src/api/index.js';
import { finishPatchSession, patchSession } from '../../src/api/patch-file.js';
import { readTables } from '../../src/api/read-tables.js';
import { type EditResult, type ElfEdit, editElf, editParsed } from '../../src/elf/edit/index.js';
import { dynamicSymbolNames } from '../../src/elf/edit/symbol-names.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { isCaldError } from '../../src/errors/index.js';
import { casName } from '../elf/helpers/edit-check.js';
import { machineElfFiles } from '../helpers/elf-files.js';
import { makeTmp } from '../helpers/tmp.js';

const DT_AUDIT = 0x6ffffefcn;

/** Large libraries of the machine, each with DT_NEEDED entries (the kind a closure import edits). */
function largeLibraries(max: number): string[] {
  return machineElfFiles(['/usr/lib/x86_64-linux-gnu'])
    .filter((f) => /\.so(\.|$)/.test(f))
    .filter((f) => {
      const size = statSync(f).size;
      return size >= 1024 * 1024 && size < 32 * 1024 * 1024;
    })
    .sort()
    .filter((f) => {
      try {
        return ElfFile.parse(readFileSync(f)).needed.length > 0;
      } catch {
        return false;
      }
    })
    .slice(0, max);
}

/** Edits of every layout path: .dynstr grown in place or moved, .dynamic moved, symbols renamed. */
function editSets(elf: ElfFile): ElfEdit[][] {
  const sets: ElfEdit[][] = [
    elf.needed.map((n): ElfEdit => ({ kind: 'replaceNeeded', from: n, to: casName(n) })),
    [{ kind: 'replaceNeeded', from: elf.needed[0]!, to: `${elf.needed[0]!}x` }],
    [
      { kind: 'setSearchPath', value: `/opt/${'r'.repeat(300)}` },
      ...Array.from({ length: 40 }, (_, i): ElfEdit => ({ kind: 'addNeeded', name: `libextra${i}.so` })),
      { kind: 'addDynamic', tag: DT_AUDIT, value: 'libaudit-x.so' },
    ],
  ];
  const name = dynamicSymbolNames(elf).find((n) => n.length > 3);
  if (name !== undefined) sets.push([{ kind: 'renameDynamicSymbols', map: new Map([[name, `${name}_r`]]) }]);
  return sets;
}

/** The input with `result`'s written ranges stored over it: what replaceFilePatched makes. */
function patched(input: Buffer, result: EditResult): Buffer {
  const out = Buffer.alloc(result.buffer.length);
  input.copy(out, 0, 0, Math.min(input.length, out.length));
  for (const [s, e] of result.written) result.buffer.copy(out, s, s, e);
  if (out.length > input.length) result.buffer.copy(out, input.length, input.length);
  return out;
}

function outcome(f: () => EditResult): EditResult | string {
  try {
    return f();
  } catch (e) {
    if (isCaldError(e)) return e.code;
    throw e;
  }
}

describe('editing a file read in part', () => {
  const dir = makeTmp({ after }, 'partial-read');
  const files = largeLibraries(24);

  test('the engine on the tables alone gives the whole-file result, or refuses the read', () => {
    assert.ok(files.length >= 8, `only ${files.length} large libraries here`);
    let partial = 0;
    let refused = 0;
    let cases = 0;
    for (const file of files) {
      const whole = readFileSync(file);
      for (const edits of editSets(ElfFile.parse(whole))) {
        cases++;
        const want = outcome(() => editElf(whole, edits));
        // Memory that held other bytes: a read of a hole must never see the file's.
        const room = Buffer.alloc(whole.length + 64 * 1024 + (whole.length >> 4), 0xa5);
        const fd = openSync(file, 'r');
        let holes: Array<[number, number]>;
        try {
          holes = readTables(fd, room, whole.length);
        } finally {
          closeSync(fd);
        }
        assert.ok(holes.length > 0, `${file}: read whole`);
        partial++;
        const buf = room.subarray(0, whole.length);
        const got = outcome(() => editParsed(ElfFile.parse(buf, holes), edits, { reuseInput: true }));
        if (got === 'ELF_NOT_READ') {
          refused++;
          continue;
        }
        if (typeof want === 'string' || typeof got === 'string') {
          assert.equal(got, want, `${file}: ${JSON.stringify(edits[0]?.kind)}`);
          continue;
        }
        assert.equal(got.changed, want.changed);
        assert.ok(patched(whole, got).equals(want.buffer), `${file}: ${edits[0]?.kind}: results differ`);
      }
    }
    console.log(`${cases} edits of ${partial} files read in part; ${refused} needed the whole file`);
    assert.ok(refused <= cases / 10, `${refused} of ${cases} edits needed the whole file`);
  });

  test('patchFile writes the same bytes as an edit of the whole file', async () => {
    for (const [i, file] of files.slice(0, 8).entries()) {
      const whole = readFileSync(file);
      for (const [j, edits] of editSets(ElfFile.parse(whole)).entries()) {
        const want = outcome(() => editElf(whole, edits));
        const copy = join(dir, `${i}-${j}.so`);
        copyFileSync(file, copy);
        let err: string | undefined;
        try {
          await patchFile({ path: copy, edits, durable: false });
        } catch (e) {
          if (!isCaldError(e)) throw e;
          err = e.code;
        }
        if (typeof want === 'string') {
          assert.equal(err, want, file);
          continue;
        }
        assert.equal(err, undefined, `${file}: ${err}`);
        assert.ok(readFileSync(copy).equals(want.buffer), `${file}: ${edits[0]?.kind}: file differs`);
      }
    }
    // No temporary file left behind.
    assert.ok(readdirSync(dir).every((n) => !n.startsWith('.')));
  });

  test('a batch removes the replaced files off the main thread, leaving nothing behind', async () => {
    const batch = join(dir, 'batch');
    const keep = join(dir, 'keep');
    mkdirSync(batch);
    mkdirSync(keep);
    const session = patchSession();
    const wants: Array<[string, Buffer, string, Buffer]> = [];
    for (const [i, file] of files.slice(0, 4).entries()) {
      const whole = readFileSync(file);
      const edits = editSets(ElfFile.parse(whole))[0]!;
      const copy = join(batch, `${i}.so`);
      copyFileSync(file, copy);
      // Another link to the original: replacing the file must leave that inode's bytes alone.
      linkSync(copy, join(keep, `${i}.so`));
      await patchFile({ path: copy, edits, durable: false, session });
      wants.push([copy, editElf(whole, edits).buffer, join(keep, `${i}.so`), whole]);
    }
    assert.deepEqual(await finishPatchSession(session), []);
    for (const [copy, want, kept, whole] of wants) {
      assert.ok(readFileSync(copy).equals(want), copy);
      assert.ok(readFileSync(kept).equals(whole), kept);
    }
    assert.deepEqual(readdirSync(batch).sort(), ['0.so', '1.so', '2.so', '3.so']);
  });
});
