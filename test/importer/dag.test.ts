import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DagNode, orderBottomUp } from '../../src/importer/dag.js';

let ranks: Record<string, string> = {};
const rankOf = (id: string) => ranks[id] ?? id;

function graph(spec: Record<string, string[]>, r: Record<string, string> = {}): Map<string, DagNode> {
  ranks = r;
  return new Map(Object.entries(spec).map(([id, deps]) => [id, { id, deps }]));
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
  const r = orderBottomUp(g, rankOf);
  assert.deepEqual(r.dropped, []);
  checkOrder(g, r.order, r.dropped);
  assert.equal(r.order.at(-1), 'prog');
});

test('a two-library cycle drops the edge towards the higher-ranked member, whoever imports it', () => {
  const ranks0 = { a: 'aa11', b: 'bb22', p: 'ff', q: 'ee' };
  const viaP = orderBottomUp(graph({ p: ['a'], a: ['b'], b: ['a'] }, ranks0), rankOf);
  const viaQ = orderBottomUp(graph({ q: ['b'], a: ['b'], b: ['a'] }, ranks0), rankOf);
  assert.deepEqual(viaP.dropped, [['a', 'b']]);
  assert.deepEqual(viaQ.dropped, [['a', 'b']]);
  checkOrder(graph({ p: ['a'], a: ['b'], b: ['a'] }, ranks0), viaP.order, viaP.dropped);
});

test('self-references and three-member cycles become acyclic deterministically', () => {
  const g = graph({ x: ['x', 'y'], y: ['z'], z: ['x'], top: ['y'] });
  const r1 = orderBottomUp(g, rankOf);
  const r2 = orderBottomUp(graph({ top: ['y'], z: ['x'], y: ['z'], x: ['x', 'y'] }), rankOf);
  assert.deepEqual(r1.dropped.sort(), r2.dropped.sort());
  assert.ok(r1.dropped.some(([a, b]) => a === 'x' && b === 'x'));
  checkOrder(g, r1.order, r1.dropped);
});

test('a deep chain does not overflow the stack', () => {
  const spec: Record<string, string[]> = {};
  for (let i = 0; i < 50_000; i++)
    spec[`n${String(i).padStart(6, '0')}`] = i === 0 ? [] : [`n${String(i - 1).padStart(6, '0')}`];
  const r = orderBottomUp(graph(spec), rankOf);
  assert.equal(r.order[0], 'n000000');
  assert.equal(r.order.length, 50_000);
});
