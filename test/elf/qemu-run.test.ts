// Foreign programs that really run: a tiny aarch64 (little-endian, 64 KiB pages) and s390x (big-endian)
// program linked by the cross binutils against Debian's cross glibc (libc6-*-cross), run under
// qemu-user. Renaming its libc to a long name (served from a directory of links on a long RUNPATH)
// makes .dynstr move to the end of the last segment, which grows over its bss (rule 3b): the edited
// program must still print hello under qemu, agree with patchelf 0.14's facts, keep eu-elflint's
// verdict, keep its number of segments and the last one's alignment.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildHello, QEMU_TARGETS, runUnderQemu, sysrootOf, whyNoQemu } from '../helpers/qemu.js';
import { elflint, readelfSegments } from '../helpers/readelf.js';
import { hasTool } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { facts, runCald, runPatchelf, twoCopies } from '../patchelf/differential.js';

const root = makeTmp({ after }, 'qemu-run');

describe('foreign programs edited, then run under qemu-user', () => {
  for (const t of QEMU_TARGETS) {
    test(`${t.name}: libc renamed to a long name, served from a link directory`, (ctx) => {
      const why = whyNoQemu(t);
      if (why !== null) return ctx.skip(why);
      const d = join(root, t.name);
      mkdirSync(d, { recursive: true });
      const sysroot = sysrootOf(t);
      const prog = buildHello(t, d);
      const qemu = (file: string) => runUnderQemu(t, file);
      assert.equal(qemu(prog).stdout, 'hello\n', 'the unedited program runs under qemu');

      const longName = `libc-${'c'.repeat(100)}.so.6`;
      const links = join(d, `links-${'l'.repeat(80)}`);
      mkdirSync(links);
      symlinkSync(`${sysroot}/lib/libc.so.6`, join(links, longName));
      const { theirs, ours } = twoCopies(join(d, 'edit'), prog, 'prog');
      const edits = [
        ['--replace-needed', 'libc.so.6', longName],
        ['--set-rpath', links],
      ];
      for (const e of edits) assert.equal(runPatchelf([...e, theirs]).status, 0);
      const r = runCald([...edits.flat(), ours]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(facts(ours), facts(theirs));
      const out = qemu(ours);
      assert.equal(out.stdout, 'hello\n', `edited program under qemu: ${out.stderr}`);
      if (hasTool('eu-elflint')) assert.deepEqual(elflint(ours), elflint(prog));
      const loads = readelfSegments(ours).filter((s) => s.type === 'LOAD');
      const before = readelfSegments(prog).filter((s) => s.type === 'LOAD');
      assert.equal(loads.length, before.length, 'no segment added: .dynstr ends the last one (rule 3b)');
      assert.equal(loads.at(-1)?.align, Math.max(...before.map((s) => s.align)), "the file's own alignment");
    });
  }
});
