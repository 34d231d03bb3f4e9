import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ElfFile } from '../../src/elf/read/index.js';
import { objectRefs } from '../../src/importer/cald-note.js';
import { type ImportInput, type ImportNode, importClosure } from '../../src/importer/import-closure.js';
import { LocalStore, parseCasName } from '../../src/store/index.js';
import { BufferPool } from '../../src/util/buffer-pool.js';
import { repoPath } from '../helpers/paths.js';
import { run, runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';

/**
 * An import input built from ldd's answer (an independent resolver), so this test exercises
 * the importer alone: each node's needed names map through ldd's name => path pairs.
 */
function inputFromLdd(program: string): ImportInput {
  const byName = new Map<string, string>();
  let interpreter: string | undefined;
  for (const line of runOk('ldd', [program]).stdout.split('\n')) {
    const m = /^\s*(\S+) => (\S+) \(/.exec(line);
    if (m) byName.set(m[1]!, realpathSync(m[2]!));
    const i = /^\s*(\/\S*ld-linux\S*) \(/.exec(line);
    if (i) interpreter = realpathSync(i[1]!);
  }
  if (interpreter) byName.set('ld-linux-x86-64.so.2', interpreter);
  const nodes = new Map<string, ImportNode>();
  const visit = (path: string) => {
    if (nodes.has(path)) return;
    const needed = ElfFile.parse(readFileSync(path)).needed.map((name) => ({
      name,
      target: byName.get(name),
    }));
    nodes.set(path, { path, needed });
    for (const d of needed) if (d.target) visit(d.target);
  };
  const root = realpathSync(program);
  visit(root);
  return {
    nodes,
    roots: [root],
    interpreter,
    hostProvided: () => false,
    readFile: (p) => readFileSync(p),
    isExecutable: (p) => (statSync(p).mode & 0o111) !== 0,
  };
}

async function importInto(dir: string, program: string, input = inputFromLdd(program)) {
  const store = await LocalStore.open({ path: dir, create: true, extractRefs: objectRefs });
  try {
    return { outcome: await importClosure(store, input), root: store.root };
  } finally {
    store.close();
  }
}

test('sqlite3 imported bottom-up runs by content from the name directory', async (t) => {
  const dir = join(makeTmp(t, 'import'), 'store');
  const { outcome, root } = await importInto(dir, '/usr/bin/sqlite3');
  const prog = outcome.roots[0]!;
  const objectPath = (hex: string) => join(root, 'objects', 'sha256', hex);

  // Every DT_NEEDED except the loader's is a cas name whose hex is its object's sha256 (checked by sha256sum).
  for (const o of outcome.objects) {
    const bytes = readFileSync(objectPath(o.digest.hex));
    assert.ok(!bytes.includes(Buffer.from(root)), `${o.path}'s object contains the store path`);
    for (const name of ElfFile.parse(bytes).needed) {
      if (name.startsWith('ld-linux')) continue;
      const { digest } = parseCasName(name);
      const sum = runOk('sha256sum', [objectPath(digest.hex)]).stdout.split(' ')[0];
      assert.equal(sum, digest.hex, `${name} in ${o.path}`);
    }
  }
  const names = readdirSync(join(root, 'names'));
  assert.ok(names.length >= outcome.objects.length - 1);

  const r = run(objectPath(prog.digest.hex), [':memory:', 'select 40+2'], {
    env: { LD_LIBRARY_PATH: join(root, 'names') },
  });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), '42');

  const audit = repoPath('native/build/libcald-audit.so');
  const a = run(objectPath(prog.digest.hex), [':memory:', 'select 6*7'], {
    env: { LD_AUDIT: audit, CALD_STORE: root },
  });
  assert.equal(a.stderr, '');
  assert.equal(a.stdout.trim(), '42');
});

test('two fresh stores give identical digests', async (t) => {
  const tmp = makeTmp(t, 'import2');
  const a = await importInto(join(tmp, 'a'), '/usr/bin/sqlite3');
  const b = await importInto(join(tmp, 'b'), '/usr/bin/sqlite3');
  assert.deepEqual(
    a.outcome.objects.map((o) => o.digest.toString()),
    b.outcome.objects.map((o) => o.digest.toString()),
  );
});

test('files read into memory that earlier files gave back store the same objects, each its own bytes', async (t) => {
  const tmp = makeTmp(t, 'import-pool');
  const plain = await importInto(join(tmp, 'plain'), '/usr/bin/sqlite3');
  // A pool small enough that each read reuses memory an earlier object's write gave back.
  const pool = new BufferPool(4 * 1024 * 1024);
  const taken = new Set<ArrayBufferLike>();
  const givenBack = new Set<ArrayBufferLike>();
  let reads = 0;
  const readFile = (p: string) => {
    const bytes = readFileSync(p);
    const own = pool.take(bytes.length, bytes.length + 64 * 1024);
    bytes.copy(own);
    taken.add(own.buffer);
    givenBack.delete(own.buffer);
    reads++;
    return own;
  };
  let previous: ArrayBufferLike | undefined;
  const input: ImportInput = {
    ...inputFromLdd('/usr/bin/sqlite3'),
    readFile,
    // Each file of the loop is read once the one before it was written and given back.
    readFileAsync: async (p) => {
      while (previous !== undefined && !givenBack.has(previous))
        await new Promise((resolve) => setTimeout(resolve, 1));
      const bytes = readFile(p);
      previous = bytes.buffer;
      return bytes;
    },
    rewriteInPlace: true,
    releaseBytes: (b) => {
      givenBack.add(b.buffer);
      pool.release(b);
    },
  };
  const pooled = await importInto(join(tmp, 'pooled'), '/usr/bin/sqlite3', input);
  assert.ok(taken.size < reads, `memory reused: ${taken.size} buffers for ${reads} reads`);
  assert.deepEqual(
    pooled.outcome.objects.map((o) => o.digest.toString()),
    plain.outcome.objects.map((o) => o.digest.toString()),
  );
  for (const o of pooled.outcome.objects) {
    const stored = readFileSync(join(pooled.root, 'objects', 'sha256', o.digest.hex));
    assert.equal(createHash('sha256').update(stored).digest('hex'), o.digest.hex, o.path);
  }
});

test('a library imported on its own gets the digest it has in a program closure; libc keeps naming ld.so', async (t) => {
  const dir = makeTmp(t, 'import-library');
  const { importFiles } = await import('../../src/api/index.js');
  const libz = realpathSync('/usr/lib/x86_64-linux-gnu/libz.so.1');
  const alone = await importFiles({ paths: [libz], store: join(dir, 'alone'), env: {} });
  const withProgram = await importFiles({
    paths: ['/usr/bin/sqlite3'],
    store: join(dir, 'sqlite3'),
    env: {},
  });
  const inProgram = readdirSync(join(dir, 'sqlite3', 'names')).find((n) => n.endsWith('?name=libz.so.1'));
  assert.ok(inProgram, 'sqlite3 needs libz.so.1');
  assert.equal(`cas:${alone.imported[0]!.digest}?name=libz.so.1`, inProgram);
  assert.ok(withProgram.loader !== undefined && alone.loader !== undefined);
  const libc = realpathSync(join(dir, 'alone', 'paths', realpathSync('/lib/x86_64-linux-gnu/libc.so.6')));
  assert.match(
    runOk('readelf', ['-dW', libc]).stdout,
    /\(NEEDED\)\s+Shared library: \[ld-linux-x86-64\.so\.2\]/,
  );
});
