import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DagNode, orderBottomUp } from '../../src/importer/dag.js';

function graph(spec: Record<string, string[]>, ranks: Record<string, string> = {}): Map<string, DagNode> {
  return new Map(Object.entries(spec).map(([id, deps]) => [id, { id, rank: ranks[id] ?? id, deps }]));
}

function checkOrder(nodes: Map<string, DagNode>, order: string[], dropped: Array<[string, string]>): void {
  const pos = new Map(order.map((id, i) => [id, i]));
  assert.equal(order.length, nodes.size);
  for (const n of nodes.values()) {
    for (const d of n.deps) {
      if (dropped.some(([a, b]) => a === n.id && b === d)) continue;
      assert.ok(pos.get(d)! < pos.get(n.id)!, `${d} must come before ${n.id}`);
    }
  }
}

test('an acyclic closure is ordered leaves first and nothing is dropped', () => {
  const g = graph({ prog: ['libz', 'libc'], libz: ['libc'], libc: ['ld'], ld: [] });
  const r = orderBottomUp(g);
  assert.deepEqual(r.dropped, []);
  checkOrder(g, r.order, r.dropped);
  assert.equal(r.order.at(-1), 'prog');
});

test('a two-library cycle drops the edge towards the higher-ranked member, whoever imports it', () => {
  const ranks = { a: 'aa11', b: 'bb22', p: 'ff', q: 'ee' };
  const viaP = orderBottomUp(graph({ p: ['a'], a: ['b'], b: ['a'] }, ranks));
  const viaQ = orderBottomUp(graph({ q: ['b'], a: ['b'], b: ['a'] }, ranks));
  assert.deepEqual(viaP.dropped, [['a', 'b']]);
  assert.deepEqual(viaQ.dropped, [['a', 'b']]);
  checkOrder(graph({ p: ['a'], a: ['b'], b: ['a'] }, ranks), viaP.order, viaP.dropped);
});

test('self-references and three-member cycles become acyclic deterministically', () => {
  const g = graph({ x: ['x', 'y'], y: ['z'], z: ['x'], top: ['y'] });
  const r1 = orderBottomUp(g);
  const r2 = orderBottomUp(graph({ top: ['y'], z: ['x'], y: ['z'], x: ['x', 'y'] }));
  assert.deepEqual(r1.dropped.sort(), r2.dropped.sort());
  assert.ok(r1.dropped.some(([a, b]) => a === 'x' && b === 'x'));
  checkOrder(g, r1.order, r1.dropped);
});

test('a deep chain does not overflow the stack', () => {
  const spec: Record<string, string[]> = {};
  for (let i = 0; i < 50_000; i++)
    spec[`n${String(i).padStart(6, '0')}`] = i === 0 ? [] : [`n${String(i - 1).padStart(6, '0')}`];
  const r = orderBottomUp(graph(spec));
  assert.equal(r.order[0], 'n000000');
  assert.equal(r.order.length, 50_000);
});
