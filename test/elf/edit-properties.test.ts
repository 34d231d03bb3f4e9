// Properties every edit must keep: a no-op is byte-identical, output is deterministic, repeated edits
// do not grow the file without bound, one call with many edits says what the same edits one at a
// time say, appended data is kept or the edit refused, and files without section headers still edit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ElfEdit, editElf } from '../../src/elf/edit/index.js';
import { DT_STRING_TAGS, PF_X, PT_GNU_STACK } from '../../src/elf/format/constants.js';
import { ElfFile } from '../../src/elf/read/index.js';
import { isCaldError } from '../../src/errors/index.js';
import { buildVariant, type CFixture, copyFixture, isSkipped, runFixture } from '../helpers/compile.js';
import { machineElfFiles } from '../helpers/elf-files.js';
import { runnableHere, type Skippable } from '../helpers/host.js';
import {
  readelfDynamic,
  readelfInterp,
  readelfSegments,
  readelfVersionNeeds,
  readelfWarnings,
} from '../helpers/readelf.js';
import { run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  baseline,
  casName,
  checkEdited,
  copyWritable,
  DT_AUDIT,
  DT_NEEDED,
  dynamicStrings,
  editFile,
  linkDir,
  todoIfKnown,
} from './helpers/edit-check.js';
import { assertWrittenCovers } from './helpers/written-ranges.js';

const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const DT_FLAGS_1 = 0x6ffffffbn;
const root = makeTmp({ after }, 'edit-props');

/** Edits that each set a value the file already has. */
function noOpEdits(elf: ElfFile): ElfEdit[] {
  const edits: ElfEdit[] = [];
  if (elf.interp !== undefined) edits.push({ kind: 'setInterpreter', path: elf.interp.value });
  edits.push({ kind: 'setOsAbi', value: elf.header.osabi });
  const stack = elf.programHeaders.find((p) => p.type === PT_GNU_STACK);
  if (stack !== undefined) edits.push({ kind: 'setExecStack', executable: (stack.flags & PF_X) !== 0 });
  if (elf.dynamic === undefined) return edits;
  const seen = new Set<bigint>();
  const tags = elf.dynamicEntries.map((e) => e.tag);
  const both = tags.includes(DT_RPATH) && tags.includes(DT_RUNPATH);
  for (const e of elf.dynamicEntries) {
    if (e.tag === 0n) break;
    const str = DT_STRING_TAGS.has(e.tag) ? elf.dynString(e.value) : undefined;
    if (e.tag === DT_NEEDED) {
      edits.push({ kind: 'replaceNeeded', from: str!, to: str! }, { kind: 'addNeeded', name: str! });
      continue;
    }
    if (seen.has(e.tag)) continue;
    seen.add(e.tag);
    if (e.tag === DT_RUNPATH && !both) edits.push({ kind: 'setSearchPath', value: str! });
    else if (e.tag === DT_RPATH && !both) edits.push({ kind: 'setSearchPath', value: str!, force: true });
    else if (e.tag === 14n) edits.push({ kind: 'setSoname', name: str! });
    else if (e.tag === DT_FLAGS_1) edits.push({ kind: 'setFlags1', set: e.value, clear: 0n });
    else edits.push({ kind: 'setDynamic', tag: e.tag, value: str ?? e.value });
  }
  return edits;
}

describe('no-op edits', () => {
  test('every edit kind set to what the file has leaves machine files byte-identical', {
    timeout: 300_000,
  }, () => {
    const files = machineElfFiles().filter((f) => statSync(f).size < 64 * 1024 * 1024);
    let parsed = 0;
    let refused = 0;
    let edits = 0;
    const started = Date.now();
    for (const file of files) {
      const buf = readFileSync(file);
      let elf: ElfFile;
      try {
        elf = ElfFile.parse(buf);
      } catch (e) {
        assert.ok(isCaldError(e), `${file}: ${String(e)}`);
        refused++;
        continue;
      }
      parsed++;
      const list = noOpEdits(elf);
      edits += list.length;
      const r = editElf(buf, list);
      assert.equal(r.changed, false, `${file}: a no-op edit changed the file`);
      assert.equal(r.buffer, buf, `${file}: a no-op edit must return the input itself`);
      assert.equal(editElf(buf, []).buffer, buf);
    }
    console.log(
      `no-op: ${parsed} files (${edits} edits) unchanged, ${refused} not parsed, ${Date.now() - started} ms`,
    );
    assert.ok(parsed > 100, 'too few machine files to mean anything');
  });
});

describe('deterministic output', () => {
  test('the same input and edits give byte-identical output twice', () => {
    const files = machineElfFiles(['/usr/lib/x86_64-linux-gnu'])
      .filter((f) => /\.so(\.|$)/.test(f) && statSync(f).size < 8 * 1024 * 1024)
      .slice(0, 60);
    let edited = 0;
    for (const file of files) {
      const buf = readFileSync(file);
      let d: ReturnType<typeof dynamicStrings>;
      try {
        d = dynamicStrings(buf);
      } catch {
        continue;
      }
      if (d.needed.length === 0) continue;
      const edits: ElfEdit[] = [
        ...d.needed.map((n): ElfEdit => ({ kind: 'replaceNeeded', from: n, to: casName(n) })),
        { kind: 'setSearchPath', value: `/opt/${'r'.repeat(200)}` },
        { kind: 'addDynamic', tag: DT_AUDIT, value: 'libaudit-x.so' },
      ];
      const a = editElf(Buffer.from(buf), edits);
      const b = editElf(Buffer.from(buf), edits);
      assertWrittenCovers(buf, a);
      assert.ok(a.buffer.equals(b.buffer), `${file}: two runs differ`);
      edited++;
    }
    assert.ok(edited >= 20, `only ${edited} libraries edited`);
  });
});

/** Builds a fixture variant once for the suite. */
function fixture(name: string): () => CFixture | undefined {
  let f: CFixture | undefined;
  before(() => {
    const r = buildVariant(name, join(root, name, 'orig'));
    if (!isSkipped(r)) f = r;
  });
  let n = 0;
  return () => {
    if (f === undefined) return undefined;
    return copyFixture(f, join(root, name, `c${++n}`));
  };
}

/** Runs the edited program where this host can (else skips the run step of `t` by name). */
function assertRuns(t: Skippable, f: CFixture, env: Record<string, string> = {}): void {
  if (!runnableHere(t, f.program)) return;
  const out = runFixture(f, env);
  assert.equal(out.status, 0, `${f.program}: exit ${out.status} ${out.signal ?? ''} ${out.stderr}`);
  assert.equal(out.stderr, '');
  assert.equal(out.stdout, f.expectedStdout);
}

const VARIANTS = ['bfd-pie-runpath', 'lld-pie', 'm32-nopie'];

for (const variant of VARIANTS) {
  describe(`properties on ${variant}`, { concurrency: false }, () => {
    const get = fixture(variant);

    test('a hundred successive edits keep the file size bounded', { timeout: 120_000 }, (t) => {
      const f = get();
      if (!f) return t.skip('variant not built here');
      const original = dynamicStrings(readFileSync(f.program)).needed.filter((n) =>
        f.libs.some((l) => basename(l) === n),
      );
      const base = baseline(f.program);
      const loads0 = readelfSegments(f.program).filter((s) => s.type === 'LOAD').length;
      const sizes: number[] = [statSync(f.program).size];
      const current = new Map(original.map((n) => [n, n]));
      for (let i = 0; i < 100; i++) {
        // Back and forth: every other round renames to the original name, the others to long names of varying length.
        for (const n of original) {
          const to = i % 2 === 1 ? n : `${casName(n, String(i))}${'x'.repeat(i % 13)}`;
          editFile(f.program, [{ kind: 'replaceNeeded', from: current.get(n)!, to }]);
          current.set(n, to);
        }
        editFile(f.program, [
          { kind: 'setSearchPath', value: `/r/${i}/${'p'.repeat((i * 7) % 29)}:$ORIGIN/lib` },
        ]);
        sizes.push(statSync(f.program).size);
      }
      // The file grows once (a segment appended, or the last one grown), or never (.dynstr grew in
      // place: dynstr-slide.ts).
      const growth = sizes.findIndex((s) => s > sizes[0]!);
      const firstGrowth = Math.max(growth, 0);
      const max = Math.max(...sizes);
      // Later edits rebuild the appended segment: they may differ by the lengths of the strings, no more.
      assert.ok(
        max <= sizes[firstGrowth]! + 512,
        `file kept growing: ${sizes[0]} -> ${sizes[firstGrowth]} -> max ${max} (${sizes.join(',')})`,
      );
      const loads = readelfSegments(f.program).filter((s) => s.type === 'LOAD').length;
      assert.ok(
        loads === loads0 || (growth >= 0 && loads === loads0 + 1),
        `at most one appended PT_LOAD, rebuilt, not one per edit: ${loads0} -> ${loads}`,
      );
      // End on long names, checked and run from a link dir.
      for (const n of original)
        editFile(f.program, [{ kind: 'replaceNeeded', from: current.get(n)!, to: casName(n) }]);
      editFile(f.program, [{ kind: 'setSearchPath', value: '$ORIGIN/lib' }]);
      const known = checkEdited(f.program, base, { runpath: '$ORIGIN/lib', rpath: null });
      const links = linkDir(
        join(f.dir, 'links'),
        original.map((n) => [casName(n), join(f.libDir, n)] as const),
      );
      assertRuns(t, f, { LD_LIBRARY_PATH: links });
      console.log(
        `${variant}: sizes ${sizes[0]} -> ${sizes[firstGrowth]} (edit ${firstGrowth}), max ${max} over 200 edits`,
      );
      todoIfKnown(t, known);
    });

    test('many edits in one call say what the same edits one at a time say', { timeout: 120_000 }, (t) => {
      const f = get();
      if (!f) return t.skip('variant not built here');
      const needed = dynamicStrings(readFileSync(f.program)).needed;
      const ours = needed.filter((n) => f.libs.some((l) => basename(l) === n));
      const interp = readelfInterp(f.program)!;
      const longInterp = join(f.dir, `ld-${'l'.repeat(110)}`);
      copyWritable(interp, longInterp);
      const edits: ElfEdit[] = [
        ...ours.map((n): ElfEdit => ({ kind: 'replaceNeeded', from: n, to: casName(n) })),
        { kind: 'setSearchPath', value: `/opt/${'q'.repeat(120)}` },
        { kind: 'setInterpreter', path: longInterp },
        { kind: 'addNeeded', name: needed.includes('libm.so.6') ? 'libdl.so.2' : 'libm.so.6' },
        { kind: 'setSoname', name: casName('prog') },
        { kind: 'addSearchPath', value: '$ORIGIN/lib' },
        { kind: 'removeNeeded', name: 'libnot-there.so' },
        { kind: 'setFlags1', set: 1n, clear: 0n },
      ];
      const combined = join(f.dir, 'combined');
      const single = join(f.dir, 'single');
      copyWritable(f.program, combined);
      copyWritable(f.program, single);
      const base = baseline(f.program);
      editFile(combined, edits);
      for (const e of edits) editFile(single, [e]);
      const view = (file: string) => ({
        dynamic: readelfDynamic(file),
        interp: readelfInterp(file),
        versions: readelfVersionNeeds(file),
        warnings: readelfWarnings(file),
      });
      const a = view(combined);
      assert.deepEqual(a, view(single));
      assert.equal(a.dynamic.soname, casName('prog'));
      assert.equal(a.dynamic.runpath, `/opt/${'q'.repeat(120)}:$ORIGIN/lib`);
      assert.equal(a.interp, longInterp);
      const known = checkEdited(combined, base, { interp: longInterp });
      known.push(...checkEdited(single, base, { interp: longInterp }));
      const links = linkDir(
        join(f.dir, 'links'),
        ours.map((n) => [casName(n), join(f.libDir, n)] as const),
      );
      for (const file of [combined, single]) {
        if (!runnableHere(t, file)) break;
        const out = run(file, [], { env: { LD_BIND_NOW: '1', LD_LIBRARY_PATH: links }, timeoutMs: 10_000 });
        assert.equal(out.status, 0, `${file}: ${out.stderr}`);
        assert.equal(out.stdout, f.expectedStdout);
      }
      todoIfKnown(t, known);
    });

    test('data appended after the ELF image is kept by in-place edits, growth is refused', (t) => {
      const f = get();
      if (!f) return;
      const trailer = randomBytes(4099);
      for (const file of [f.program, ...f.libs]) {
        const orig = readFileSync(file);
        const withTrailer = Buffer.concat([orig, trailer]);
        // In place: the search path removed, DT_FLAGS_1 bits, the OS ABI (GNU, which glibc accepts).
        const r = editElf(withTrailer, [
          { kind: 'removeSearchPath' },
          { kind: 'setFlags1', set: 1n, clear: 0n },
          { kind: 'setOsAbi', value: 3 },
        ]);
        assert.equal(r.changed, true);
        assert.equal(r.buffer.length, withTrailer.length, `${file}: in-place edit changed the size`);
        assert.ok(r.buffer.subarray(orig.length).equals(trailer), `${file}: appended data changed`);
        // Growth past the last page of .dynstr's segment (so it cannot grow in place) must be refused
        // with a CaldError naming the reason.
        assert.throws(
          () => editElf(withTrailer, [{ kind: 'setSearchPath', value: `/x/${'y'.repeat(5000)}` }]),
          (e: unknown) => isCaldError(e) && e.code === 'EDIT_TRAILING_DATA',
        );
        // The in-place result runs (the program) and reads cleanly.
        if (file === f.program && runnableHere(t, file)) {
          const out = join(f.dir, 'trailing-prog');
          writeFileSync(out, r.buffer, { mode: 0o755 });
          const res = run(out, [], {
            env: { LD_BIND_NOW: '1', LD_LIBRARY_PATH: f.libDir },
            timeoutMs: 10_000,
          });
          assert.equal(res.status, 0, res.stderr);
          assert.equal(res.stdout, f.expectedStdout);
        }
      }
    });

    test('files without section headers can be edited and run', (t) => {
      const f = get();
      if (!f) return;
      const known: string[] = [];
      for (const file of [f.program, ...f.libs]) {
        // As sstrip does: e_shoff, e_shnum, e_shstrndx zeroed and the file cut after its last segment
        // (what lies past it is no longer part of the image: it would be appended data).
        const whole = readFileSync(file);
        const end = Math.max(...readelfSegments(file).map((p) => p.offset + p.filesz));
        const buf = Buffer.from(whole.subarray(0, end));
        const is64 = buf[4] === 2;
        const le = buf[5] === 1;
        const put = (off: number, size: 2 | 4 | 8) => {
          if (size === 8) buf.writeBigUInt64LE(0n, off);
          else if (size === 4) le ? buf.writeUInt32LE(0, off) : buf.writeUInt32BE(0, off);
          else le ? buf.writeUInt16LE(0, off) : buf.writeUInt16BE(0, off);
        };
        if (is64) {
          put(0x28, 8);
          put(0x3c, 2);
          put(0x3e, 2);
        } else {
          put(0x20, 4);
          put(0x30, 2);
          put(0x32, 2);
        }
        writeFileSync(file, buf);
      }
      const names = dynamicStrings(readFileSync(f.program)).needed.filter((n) =>
        f.libs.some((l) => basename(l) === n),
      );
      const links: Array<readonly [string, string]> = [];
      for (const file of [f.program, ...f.libs]) {
        const base = baseline(file);
        const d = dynamicStrings(readFileSync(file));
        const edits: ElfEdit[] = d.needed
          .filter((n) => names.includes(n) || f.libs.some((l) => basename(l) === n))
          .map((n) => ({ kind: 'replaceNeeded', from: n, to: casName(n) }));
        edits.push({ kind: 'removeSearchPath' });
        if (file !== f.program) {
          edits.push({ kind: 'setSoname', name: casName(basename(file)) });
          links.push([casName(basename(file)), file]);
        }
        assert.equal(editFile(file, edits).changed, true);
        known.push(...checkEdited(file, base, { runpath: null, rpath: null }));
      }
      const dir = linkDir(join(f.dir, 'links'), links);
      assertRuns(t, f, { LD_LIBRARY_PATH: dir });
      todoIfKnown(t, known);
    });
  });
}
