/**
 * The byte ranges written into a buffer, for a writer that then stores only those ranges over a
 * copy of the input (api/patch-file.ts: the unchanged bytes are copied by the kernel). Writes come
 * mostly in file order; one that touches or overlaps the last range extends it.
 */
export class WriteLog {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const n = this.ends.length - 1;
    if (n >= 0 && start >= this.starts[n]! && start <= this.ends[n]!) {
      if (end > this.ends[n]!) this.ends[n] = end;
      return;
    }
    this.starts.push(start);
    this.ends.push(end);
  }

  /**
   * Sorted, disjoint [start, end) ranges covering every write; ranges less than `gap` bytes apart
   * are joined (one larger write costs less than two system calls).
   */
  ranges(gap = 0): Array<[number, number]> {
    const n = this.starts.length;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) sorted = this.starts[i - 1]! <= this.starts[i]!;
    const out: Array<[number, number]> = [];
    const take = (i: number): void => {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      const last = out.at(-1);
      if (last !== undefined && s <= last[1] + gap) last[1] = Math.max(last[1], e);
      else out.push([s, e]);
    };
    if (sorted) for (let i = 0; i < n; i++) take(i);
    else
      for (const i of Array.from({ length: n }, (_, k) => k).sort(
        (a, b) => this.starts[a]! - this.starts[b]!,
      ))
        take(i);
    return out;
  }
}
