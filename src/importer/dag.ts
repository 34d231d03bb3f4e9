/**
 * Orders an import bottom-up and makes it acyclic. Content hashes cannot refer to each other in
 * a circle, so when libraries need each other (a strongly connected component of the DT_NEEDED
 * graph), some edges inside the component cannot become content names. The rule, the same on
 * every machine and for every program that reaches the component: members are ranked by the
 * sha256 of their original bytes, and an edge inside a component is kept only when it points
 * to a lower-ranked member; the others are dropped from DT_NEEDED (the loader still loads the
 * target, which the kept edges or the program itself bring in). See docs/import.md.
 */

export interface DagNode {
  id: string;
  /** Targets by node id, in DT_NEEDED order. */
  deps: string[];
}

/** The rank of a node inside a cycle: the sha256 hex of its original bytes. Asked only for cycle members. */
export type RankOf = (id: string) => string;

export interface DagOrder {
  /** Node ids, every node after all the nodes it depends on (leaves first). */
  order: string[];
  /** Edges removed to break cycles, as [from, to]. */
  dropped: Array<[string, string]>;
}

/** Tarjan's algorithm, iterative (closures can be deep), in deterministic DT_NEEDED order. */
function components(nodes: ReadonlyMap<string, DagNode>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const comp = new Map<string, number>();
  let next = 0;
  let compCount = 0;
  for (const start of [...nodes.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const deps = nodes.get(frame.id)?.deps ?? [];
      if (frame.i < deps.length) {
        const d = deps[frame.i++]!;
        if (!nodes.has(d)) continue;
        if (!index.has(d)) {
          index.set(d, next);
          low.set(d, next++);
          stack.push(d);
          onStack.add(d);
          work.push({ id: d, i: 0 });
        } else if (onStack.has(d)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(d)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
      if (low.get(frame.id) === index.get(frame.id)) {
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          comp.set(member, compCount);
        } while (member !== frame.id);
        compCount++;
      }
    }
  }
  return comp;
}

export function orderBottomUp(nodes: ReadonlyMap<string, DagNode>, rankOf: RankOf): DagOrder {
  const comp = components(nodes);
  const ranks = new Map<string, string>();
  const rank = (id: string) => {
    let r = ranks.get(id);
    if (r === undefined) {
      r = rankOf(id);
      ranks.set(id, r);
    }
    return r;
  };
  const dropped: Array<[string, string]> = [];
  const kept = new Map<string, string[]>();
  for (const n of nodes.values()) {
    kept.set(
      n.id,
      n.deps.filter((d) => {
        if (!nodes.has(d)) return false;
        if (comp.get(d) !== comp.get(n.id)) return true;
        const keep = d !== n.id && (rank(d) < rank(n.id) || (rank(d) === rank(n.id) && d < n.id));
        if (!keep) dropped.push([n.id, d]);
        return keep;
      }),
    );
  }
  // Depth-first post-order over the now acyclic graph, roots and deps in a fixed order.
  const order: string[] = [];
  const done = new Set<string>();
  for (const start of [...nodes.keys()].sort()) {
    if (done.has(start)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: start, i: 0 }];
    done.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const deps = kept.get(frame.id)!;
      if (frame.i < deps.length) {
        const d = deps[frame.i++]!;
        if (!done.has(d)) {
          done.add(d);
          work.push({ id: d, i: 0 });
        }
        continue;
      }
      work.pop();
      order.push(frame.id);
    }
  }
  return { order, dropped };
}
