import type { GraphNode, GraphReport } from '../../api/graph.js';
import { formatSize, shortHash } from './graph-layout.js';

/** A DOT string literal: Graphviz needs only `"` and `\` escaped (and no raw newlines). */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function attributes(n: GraphNode): string {
  const label = [n.label, `${formatSize(n.size)}${n.digest === null ? '' : `  ${shortHash(n.digest)}`}`];
  const a: Record<string, string> = { label: label.join('\n'), tooltip: n.path ?? n.id };
  if (n.state === 'program') Object.assign(a, { fillcolor: '#cfe2ff', penwidth: '2' });
  else if (n.state === 'verified') a.fillcolor = n.dependents > 1 ? '#c8ebd0' : '#eef8f0';
  else if (n.state.startsWith('host'))
    Object.assign(a, { fillcolor: '#f2f2f2', style: 'rounded,filled,dashed' });
  if (n.state !== 'program' && n.state !== 'verified' && n.state !== 'host') {
    Object.assign(a, { fillcolor: '#ffd7d5', color: '#cf222e', style: 'rounded,filled,bold,dashed' });
    a.label = `${a.label}\n${n.state.toUpperCase()}`;
  }
  if (n.dependents > 1 && n.state === 'verified') a.penwidth = '2';
  return Object.entries(a)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(', ');
}

/** The graph in Graphviz's language: `cald graph P --format dot | dot -Tpng > p.png`. */
export function formatDot(g: GraphReport): string {
  const lines = [
    `digraph ${quote(`cald ${g.program.spec}`)} {`,
    '  graph [rankdir=TB, nodesep=0.2, ranksep=0.6];',
    '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=10];',
    '  edge [color="#8a8a8a", arrowsize=0.6];',
  ];
  for (const n of g.nodes) lines.push(`  ${quote(n.id)} [${attributes(n)}];`);
  for (const e of g.edges) lines.push(`  ${quote(e.from)} -> ${quote(e.to)} [tooltip=${quote(e.name)}];`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
