import type { GraphEdge, GraphNode, GraphReport } from '../../api/graph.js';

// A layered drawing of a dependency DAG: each node in the layer of its longest DT_NEEDED chain
// from the program, so every edge points down; within a layer, nodes ordered by the mean position
// of the nodes that need them (the barycenter heuristic), which keeps most edges short; a layer
// wider than MAX_PER_ROW wraps onto more rows so that a 200-library closure stays readable.

export const NODE_W = 172;
export const NODE_H = 46;
const GAP_X = 18;
const GAP_ROW = 26;
const GAP_LAYER = 64;
const MARGIN = 24;
const MAX_PER_ROW = 10;
const SWEEPS = 4;

export interface PlacedNode {
  readonly node: GraphNode;
  /** Top-left corner. */
  readonly x: number;
  readonly y: number;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, PlacedNode>;
  readonly edges: readonly GraphEdge[];
}

export function layoutGraph(g: Pick<GraphReport, 'nodes' | 'edges'>): Layout {
  const layers: GraphNode[][] = [];
  for (const n of g.nodes) {
    const layer = layers[n.depth] ?? [];
    layer.push(n);
    layers[n.depth] = layer;
  }
  for (const layer of layers) layer?.sort((a, b) => a.label.localeCompare(b.label));
  const parents = new Map<string, string[]>();
  for (const e of g.edges) {
    const p = parents.get(e.to) ?? [];
    p.push(e.from);
    parents.set(e.to, p);
  }
  const rank = new Map<string, number>();
  const setRanks = () =>
    layers.forEach((layer) => {
      layer?.forEach((n, i) => {
        rank.set(n.id, i / Math.max(1, layer.length - 1));
      });
    });
  setRanks();
  for (let s = 0; s < SWEEPS; s++) {
    for (const layer of layers.slice(1)) {
      if (layer === undefined) continue;
      const center = (n: GraphNode): number => {
        const ps = (parents.get(n.id) ?? []).map((p) => rank.get(p) ?? 0.5);
        return ps.length === 0 ? 0.5 : ps.reduce((a, b) => a + b, 0) / ps.length;
      };
      const keyed = layer.map((n) => ({ n, k: center(n) }));
      keyed.sort((a, b) => a.k - b.k || a.n.label.localeCompare(b.n.label));
      layer.splice(0, layer.length, ...keyed.map((x) => x.n));
    }
    setRanks();
  }

  const widest = Math.min(MAX_PER_ROW, Math.max(1, ...layers.map((l) => l?.length ?? 0)));
  const width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X;
  const placed = new Map<string, PlacedNode>();
  let y = MARGIN;
  for (const layer of layers) {
    if (layer === undefined || layer.length === 0) continue;
    for (let start = 0; start < layer.length; start += MAX_PER_ROW) {
      const row = layer.slice(start, start + MAX_PER_ROW);
      const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
      let x = (width - rowWidth) / 2;
      for (const node of row) {
        placed.set(node.id, { node, x, y });
        x += NODE_W + GAP_X;
      }
      y += NODE_H + GAP_ROW;
    }
    y += GAP_LAYER - GAP_ROW;
  }
  return { width, height: y - GAP_LAYER + GAP_ROW + MARGIN, nodes: placed, edges: g.edges };
}

/** 1234567 → "1.2 MB"; null → "—". */
export function formatSize(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = bytes / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** The first hex digits of a digest, as people quote them; '' for a host node. */
export function shortHash(digest: string | null): string {
  return digest === null ? '' : (digest.split(':')[1] ?? '').slice(0, 12);
}

/** The CSS classes that say what a node is: its state and whether it is shared. */
export function nodeClasses(n: GraphNode): string {
  const state = n.state.startsWith('host') ? `host ${n.state}` : n.state;
  return `node ${state}${n.dependents > 1 ? ' shared' : ''}`;
}
