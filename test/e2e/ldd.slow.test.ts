// `cald ldd` on the imported ffmpeg: every object of the import listed with its path and verified
// state (exit 0); after a flipped byte in one library (in a copy of the store) that object is
// reported as tampered and the exit status is non-zero.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runOk } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import {
  baseEnv,
  caldCli,
  flipByte,
  hexOf,
  importInto,
  objectPath,
  programsMissing,
  walkObjects,
} from './e2e.js';

interface Node {
  name: string;
  state: string;
  path: string | null;
  digest?: string;
  needed?: Node[];
}

function flatten(nodes: readonly Node[], out: Node[] = []): Node[] {
  for (const n of nodes) {
    out.push(n);
    flatten(n.needed ?? [], out);
  }
  return out;
}

const skip = programsMissing() ?? false;

test('cald ldd lists every object of ffmpeg with its path and verified state; a flipped byte is reported', {
  skip,
}, (t) => {
  const dir = makeTmp(t, 'e2e-ldd');
  const env = baseEnv(join(dir, 'home'));
  const store = join(dir, 'store');
  const imp = importInto(store, ['/usr/bin/ffmpeg'], env);
  const objects = walkObjects(store, [imp.program.hex]);

  let t0 = performance.now();
  const r = caldCli(['ldd', '--store', store, 'ffmpeg', '--json'], env);
  const ms = Math.round(performance.now() - t0);
  assert.equal(r.status, 0, r.stderr);
  const tree = JSON.parse(r.stdout) as { program: Node & { state: string }; needed: Node[] };
  assert.equal(tree.program.state, 'verified');
  const nodes = flatten(tree.needed);
  const cas = nodes.filter((n) => n.name.startsWith('cas:'));
  const listed = new Set(cas.map((n) => hexOf(n.name)));
  listed.add(imp.program.hex);
  assert.deepEqual(
    [...listed].sort(),
    [...objects.keys()].sort(),
    'every object of the import, nothing else',
  );
  for (const n of cas) {
    assert.ok(n.state === 'verified', `${n.name}: ${n.state}`);
    assert.equal(n.path, objectPath(store, hexOf(n.name)));
  }
  const host = nodes.filter((n) => !n.name.startsWith('cas:'));
  assert.ok(
    host.every((n) => n.state === 'host'),
    JSON.stringify(host.filter((n) => n.state !== 'host')),
  );
  t.diagnostic(
    `${listed.size} objects verified, ${nodes.length} tree entries, host names: ${[...new Set(host.map((n) => n.name))].join(' ')} (${ms} ms)`,
  );
  const text = caldCli(['ldd', '--store', store, 'ffmpeg'], env);
  assert.equal(text.status, 0, text.stderr);
  for (const hex of objects.keys()) assert.ok(text.stdout.includes(objectPath(store, hex)), hex);

  // A flipped byte in one library, in a copy of the store.
  const copy = join(dir, 'copy');
  runOk('cp', ['-a', store, copy]);
  const victim = cas.find((n) => n.name.includes('?name=libavcodec.so'))!;
  flipByte(objectPath(copy, hexOf(victim.name)));
  t0 = performance.now();
  const bad = caldCli(['ldd', '--store', copy, 'ffmpeg', '--json'], env);
  assert.notEqual(bad.status, 0);
  const badNodes = flatten((JSON.parse(bad.stdout) as { needed: Node[] }).needed);
  const states = new Set(badNodes.filter((n) => n.name === victim.name).map((n) => n.state));
  assert.deepEqual([...states], ['tampered']);
  assert.ok(
    badNodes
      .filter((n) => n.name.startsWith('cas:') && n.name !== victim.name)
      .every((n) => n.state === 'verified'),
  );
  const badText = caldCli(['ldd', '--store', copy, 'ffmpeg'], env);
  assert.notEqual(badText.status, 0);
  const vhex = hexOf(victim.name);
  assert.match(badText.stdout, new RegExp(`${vhex}[^\n]*tampered|tampered[^\n]*${vhex}`, 'i'));
  assert.ok(badText.stderr.includes(hexOf(victim.name)), badText.stderr);
  t.diagnostic(
    `tampered ${victim.name.slice(0, 30)}...: exit ${bad.status}; stderr: ${badText.stderr.trim().split('\n')[0]}`,
  );
});
