import type { GraphReport } from '../../api/graph.js';
import {
  formatSize,
  type Layout,
  layoutGraph,
  NODE_H,
  NODE_W,
  nodeClasses,
  shortHash,
} from './graph-layout.js';

/** Text for XML content and attribute values. */
export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const MAX_LABEL = 24;
const clip = (s: string): string => (s.length > MAX_LABEL ? `${s.slice(0, MAX_LABEL - 1)}…` : s);

export const SVG_STYLE = `
  .node rect { fill: #eef8f0; stroke: #6e7781; stroke-width: 1; }
  .node.shared rect { fill: #c8ebd0; stroke: #1a7f37; stroke-width: 2; }
  .node.program rect { fill: #cfe2ff; stroke: #0550ae; stroke-width: 2; }
  .node.host rect { fill: #f2f2f2; stroke: #8c959f; stroke-dasharray: 4 3; }
  .node.missing rect, .node.tampered rect, .node.malformed rect, .node.unreadable rect,
  .node.host-missing rect { fill: #ffd7d5; stroke: #cf222e; stroke-width: 2; stroke-dasharray: 5 3; }
  .node text { font: 12px sans-serif; fill: #1f2328; }
  .node text.sub { font: 10px monospace; fill: #57606a; }
  .edge { fill: none; stroke: #8a8a8a; stroke-opacity: 0.45; }
`;

function edgePath(l: Layout, from: string, to: string): string | undefined {
  const a = l.nodes.get(from);
  const b = l.nodes.get(to);
  if (a === undefined || b === undefined) return undefined;
  const x1 = a.x + NODE_W / 2;
  const y1 = a.y + NODE_H;
  const x2 = b.x + NODE_W / 2;
  const y2 = b.y;
  const bend = Math.max(24, (y2 - y1) / 2);
  return `M${x1.toFixed(1)},${y1} C${x1.toFixed(1)},${y1 + bend} ${x2.toFixed(1)},${y2 - bend} ${x2.toFixed(1)},${y2}`;
}

/** The graph drawn as one standalone SVG document (no fonts, scripts or links from elsewhere). */
export function formatSvg(g: GraphReport, options: { standalone?: boolean } = {}): string {
  const l = layoutGraph(g);
  const out: string[] = [];
  if (options.standalone !== false) out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" role="img">`,
    `<title>${xml(`cald graph ${g.program.spec}: ${g.totals.objects} objects`)}</title>`,
    `<style>${SVG_STYLE}</style>`,
    '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#8a8a8a"/></marker></defs>',
    '<g class="edges">',
  );
  for (const e of l.edges) {
    const d = edgePath(l, e.from, e.to);
    if (d === undefined) continue;
    out.push(
      `<path class="edge" d="${d}" marker-end="url(#arrow)" data-from="${xml(e.from)}" data-to="${xml(e.to)}"><title>${xml(e.name)}</title></path>`,
    );
  }
  out.push('</g>', '<g class="nodes">');
  for (const p of l.nodes.values()) {
    const n = p.node;
    const sub = n.digest === null ? n.state : `${formatSize(n.size)}  ${shortHash(n.digest)}`;
    const tip = [
      n.label,
      n.digest ?? n.state,
      n.path ?? 'not found',
      `${formatSize(n.size)}, needed by ${n.dependents}`,
    ];
    out.push(
      `<g class="${nodeClasses(n)}" data-id="${xml(n.id)}" transform="translate(${p.x.toFixed(1)},${p.y})">`,
      `<title>${xml(tip.join('\n'))}</title>`,
      `<rect width="${NODE_W}" height="${NODE_H}" rx="6"/>`,
      `<text x="8" y="18">${xml(clip(n.label))}</text>`,
      `<text class="sub" x="8" y="36">${xml(sub)}</text>`,
      '</g>',
    );
  }
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
