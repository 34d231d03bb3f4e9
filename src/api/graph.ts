import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Env, NeededNode, NeededState } from '../runtime/index.js';
import { type LddReport, ldd } from './ldd.js';

export interface GraphOptions {
  /** PROGRAM|URI, as for run and ldd. */
  program: string;
  store?: string;
  env?: Env;
  cwd?: string;
  /** Ask the host loader where normal names resolve (default true). */
  hostLoader?: boolean;
}

export type GraphNodeState = NeededState | 'program';

export interface GraphNode {
  /** The object's digest (`sha256:<hex>`), or `host:<path or name>` for a normal name. */
  readonly id: string;
  /** What a person calls it: the `?name=` hint, the normal name, the program's name. */
  readonly label: string;
  readonly digest: string | null;
  readonly path: string | null;
  /** Bytes on disk; null when the file is not there. */
  readonly size: number | null;
  readonly state: GraphNodeState;
  /** Longest chain of DT_NEEDED from the program (the program is 0): the layer it is drawn in. */
  readonly depth: number;
  /** How many objects of the graph need it; more than one marks a shared object. */
  readonly dependents: number;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** The DT_NEEDED string that makes the edge. */
  readonly name: string;
}

export interface GraphReport {
  readonly program: LddReport['program'];
  readonly store: string;
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  readonly totals: {
    readonly objects: number;
    readonly bytes: number;
    readonly shared: number;
    readonly host: number;
    /** Missing, tampered, malformed, unreadable or not found: what makes `ok` false. */
    readonly problems: number;
  };
  readonly ok: boolean;
}

const PROBLEM: ReadonlySet<GraphNodeState> = new Set([
  'tampered',
  'missing',
  'malformed',
  'unreadable',
  'host-missing',
]);

function nodeId(n: NeededNode): string {
  if (n.digest !== undefined) return n.digest;
  return `host:${n.path ?? n.name}`;
}

function sizeOf(path: string | null): number | null {
  if (path === null) return null;
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/**
 * The dependency DAG of a program: one node per object (an object needed by many is one node),
 * one edge per DT_NEEDED entry, each node with its size and state (verified, missing, tampered,
 * host...). Built on `ldd`, so every `cas:` object is read and hashed on the way.
 */
export async function graph(options: GraphOptions): Promise<GraphReport> {
  const report = await ldd(options);
  const root = report.program.digest ?? `path:${report.program.path}`;
  const info = new Map<string, Omit<GraphNode, 'depth' | 'dependents'>>();
  const children = new Map<string, GraphEdge[]>();
  info.set(root, {
    id: root,
    label: basename(report.program.argv0),
    digest: report.program.digest,
    path: report.program.path,
    size: sizeOf(report.program.path),
    state: 'program',
  });
  const visit = (from: string, nodes: readonly NeededNode[]): void => {
    const out = children.get(from) ?? [];
    children.set(from, out);
    for (const n of nodes) {
      const id = nodeId(n);
      out.push({ from, to: id, name: n.name });
      if (!info.has(id)) {
        info.set(id, {
          id,
          label: n.hint ?? n.name,
          digest: n.digest ?? null,
          path: n.path,
          size: sizeOf(n.path),
          state: n.state,
        });
      }
      if (n.needed !== undefined) visit(id, n.needed);
    }
  };
  visit(root, report.needed);
  const edges = [...children.values()].flat();
  const depth = longestDepths(root, children);
  const dependents = new Map<string, Set<string>>();
  for (const e of edges) {
    const s = dependents.get(e.to) ?? new Set<string>();
    s.add(e.from);
    dependents.set(e.to, s);
  }
  const nodes = [...info.values()].map((n) => ({
    ...n,
    depth: depth.get(n.id) ?? 0,
    dependents: dependents.get(n.id)?.size ?? 0,
  }));
  const problems = nodes.filter((n) => PROBLEM.has(n.state)).length;
  return {
    program: report.program,
    store: report.store,
    nodes,
    edges,
    totals: {
      objects: nodes.length,
      bytes: nodes.reduce((sum, n) => sum + (n.size ?? 0), 0),
      shared: nodes.filter((n) => n.dependents > 1).length,
      host: nodes.filter((n) => n.state.startsWith('host')).length,
      problems,
    },
    ok: problems === 0 && report.ok,
  };
}

/** Longest path from the root to each node (a DAG; a cycle, which import refuses, is cut). */
function longestDepths(
  root: string,
  children: ReadonlyMap<string, readonly GraphEdge[]>,
): Map<string, number> {
  const order: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
  state.set(root, 'open');
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const out = children.get(top.id) ?? [];
    if (top.next < out.length) {
      const to = out[top.next++]!.to;
      if (!state.has(to)) {
        state.set(to, 'open');
        stack.push({ id: to, next: 0 });
      }
      continue;
    }
    state.set(top.id, 'done');
    order.push(top.id);
    stack.pop();
  }
  const depth = new Map<string, number>([[root, 0]]);
  for (const id of order.reverse()) {
    const d = depth.get(id) ?? 0;
    for (const e of children.get(id) ?? []) {
      if (e.to === root) continue;
      if ((depth.get(e.to) ?? -1) < d + 1) depth.set(e.to, d + 1);
    }
  }
  return depth;
}
