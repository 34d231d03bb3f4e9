import type { GraphReport } from '../../api/graph.js';
import { formatSize } from './graph-layout.js';
import { formatSvg, xml } from './graph-svg.js';

// One page that works offline: the SVG inline, a table of the objects, and a small script (no
// library, nothing fetched) that highlights what a clicked object needs and what needs it, and
// filters by name.

const PAGE_STYLE = `
  body { font: 14px sans-serif; margin: 0; color: #1f2328; }
  header { padding: 12px 20px; border-bottom: 1px solid #d0d7de; background: #f6f8fa; }
  header h1 { font-size: 18px; margin: 0 0 4px; }
  header input { margin-top: 8px; padding: 4px 8px; width: 260px; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; border: 1px solid #6e7781; }
  #graph { overflow: auto; padding: 8px; }
  #graph svg { max-width: none; }
  table { border-collapse: collapse; margin: 12px 20px 24px; }
  td, th { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td code { font-size: 12px; }
  .faded { opacity: 0.15; }
  .node.picked rect { stroke: #bf3989; stroke-width: 3; }
  .node { cursor: pointer; }
`;

// Runs in the page. Kept as a plain string: it is data here, not code of cald's.
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('graph-data').textContent);
  var down = {}, up = {};
  data.edges.forEach(function (e) {
    (down[e.from] = down[e.from] || []).push(e.to);
    (up[e.to] = up[e.to] || []).push(e.from);
  });
  function reach(start, next) {
    var seen = {}, todo = [start];
    seen[start] = true;
    while (todo.length) {
      (next[todo.pop()] || []).forEach(function (n) { if (!seen[n]) { seen[n] = true; todo.push(n); } });
    }
    return seen;
  }
  var nodes = document.querySelectorAll('.node');
  var edges = document.querySelectorAll('.edge');
  function show(keep, picked) {
    nodes.forEach(function (g) {
      var id = g.getAttribute('data-id');
      g.classList.toggle('faded', keep !== null && !keep[id]);
      g.classList.toggle('picked', id === picked);
    });
    edges.forEach(function (p) {
      var on = keep === null || (keep[p.getAttribute('data-from')] && keep[p.getAttribute('data-to')]);
      p.classList.toggle('faded', !on);
    });
  }
  var current = null;
  nodes.forEach(function (g) {
    g.addEventListener('click', function () {
      var id = g.getAttribute('data-id');
      if (current === id) { current = null; show(null, null); return; }
      current = id;
      var keep = reach(id, down), above = reach(id, up);
      Object.keys(above).forEach(function (k) { keep[k] = true; });
      show(keep, id);
    });
  });
  document.getElementById('filter').addEventListener('input', function (ev) {
    var q = ev.target.value.trim().toLowerCase();
    if (!q) { show(null, null); return; }
    var keep = {};
    data.nodes.forEach(function (n) { if (n.label.toLowerCase().indexOf(q) >= 0) keep[n.id] = true; });
    show(keep, null);
  });
  document.body.setAttribute('data-ready', String(data.nodes.length));
})();
`;

function legend(): string {
  const item = (color: string, text: string, extra = '') =>
    `<span><i style="background:${color};${extra}"></i>${text}</span>`;
  return [
    item('#cfe2ff', 'program'),
    item('#eef8f0', 'library (verified)'),
    item('#c8ebd0', 'shared by several', 'border:2px solid #1a7f37'),
    item('#f2f2f2', 'from the host', 'border-style:dashed'),
    item('#ffd7d5', 'missing or changed', 'border:2px dashed #cf222e'),
  ].join('');
}

function table(g: GraphReport): string {
  const rows = [...g.nodes]
    .sort((a, b) => (b.size ?? -1) - (a.size ?? -1) || a.label.localeCompare(b.label))
    .map(
      (n) =>
        `<tr><td>${xml(n.label)}</td><td class="num">${xml(formatSize(n.size))}</td><td class="num">${n.dependents}</td><td>${xml(n.state)}</td><td><code>${xml(n.digest ?? n.path ?? '')}</code></td></tr>`,
    );
  return `<table><thead><tr><th>object</th><th>size</th><th>needed by</th><th>state</th><th>digest or host path</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The dependency graph as one self-contained HTML page. */
export function formatHtml(g: GraphReport): string {
  const t = g.totals;
  const summary = `${t.objects} objects, ${formatSize(t.bytes)}; ${t.shared} shared, ${t.host} from the host${t.problems > 0 ? `, ${t.problems} missing or changed` : ''}`;
  // '<' escaped so that no string in the data can close the script element.
  const data = JSON.stringify({ nodes: g.nodes, edges: g.edges }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${xml(`cald graph: ${g.program.spec}`)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>${xml(g.program.spec)} <small>${xml(g.program.digest ?? g.program.path)}</small></h1>
<div>${xml(summary)}</div>
<div class="legend">${legend()}</div>
<input id="filter" type="search" placeholder="filter by name" aria-label="filter by name">
</header>
<div id="graph">
${formatSvg(g, { standalone: false })}</div>
${table(g)}
<script type="application/json" id="graph-data">${data}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
