import type { Colors } from '../io.js';

/**
 * Dependency names drawn as a tree, with each `cas:` name split into its hint and its hash side by
 * side in aligned columns (cald ldd, cald inspect):
 *
 *     ├─ libsqlite3.so.0   sha256:70a5d051ba3e  verified  /store/objects/sha256/70a5…
 *     │  └─ libc.so.6      sha256:57484d8d2ad0  verified (above)
 *     └─ libc.so.6         host                 host      /lib/x86_64-linux-gnu/libc.so.6
 *
 * Colours come from `c` (none when the output is not a terminal or NO_COLOR is set), so piped
 * output is plain text with the same columns.
 */
export interface TreeRow {
  readonly depth: number;
  /** Whether this row is the last child of its parent (└─ rather than ├─). */
  readonly last: boolean;
  /** The name as needed: `cas:sha256:<hex>?name=<hint>` or a plain name. */
  readonly name: string;
  /** Columns after the hash, already coloured. */
  readonly rest: readonly string[];
}

const CAS = /^cas:(sha256):([0-9a-f]{64})(?:\?name=(.+))?$/;
/** The audit sentinel of an --audit program (docs/spec.md): its directory, then a cas: name. */
const SENTINEL = /^(\/proc\/needs-libcald-audit\.so)\/cas:(sha256):([0-9a-f]{64})$/;

/** A `cas:` name's hint and digest (the audit sentinel's: its directory); a plain name is its own label, with no digest. */
export function splitName(name: string): { label: string; digest: string | undefined } {
  const s = SENTINEL.exec(name);
  if (s !== null) return { label: s[1]!, digest: `${s[2]}:${s[3]}` };
  const m = CAS.exec(name);
  if (m === null) return { label: name, digest: undefined };
  return { label: m[3] ?? '(no hint)', digest: `${m[1]}:${m[2]}` };
}

/** Visible width of a string that may hold ANSI colour escapes. */
function width(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is removed
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function pad(s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - width(s)));
}

/**
 * The rows as lines, each prefixed by `indent`. `hashChars` digits of each digest are shown
 * (64: the whole digest); a plain name's hash column says `plain` (default "host").
 */
export function formatTree(
  rows: readonly TreeRow[],
  c: Colors,
  options: { indent?: string; hashChars?: number; plain?: string } = {},
): string[] {
  const indent = options.indent ?? '';
  const plain = options.plain ?? 'host';
  const hashChars = options.hashChars ?? 12;
  // Which ancestors still have siblings below: their column gets a │.
  const open: boolean[] = [];
  const cells = rows.map((r) => {
    open.length = r.depth;
    const prefix = open.map((o) => (o ? '│  ' : '   ')).join('') + (r.last ? '└─ ' : '├─ ');
    open[r.depth] = !r.last;
    const { label, digest } = splitName(r.name);
    const hash = digest === undefined ? plain : digest.slice(0, 7 + hashChars);
    return {
      tree: c.dim(prefix) + (digest === undefined ? label : c.bold(label)),
      hash: digest === undefined ? c.dim(hash) : c.cyan(hash),
      rest: r.rest,
    };
  });
  const treeWidth = Math.max(0, ...cells.map((x) => width(x.tree)));
  const hashWidth = Math.max(0, ...cells.map((x) => width(x.hash)));
  const restWidths: number[] = [];
  for (const x of cells)
    x.rest.forEach((v, i) => {
      restWidths[i] = Math.max(restWidths[i] ?? 0, width(v));
    });
  const widths = [treeWidth, hashWidth, ...restWidths];
  return cells.map((x) => {
    const parts = [x.tree, x.hash, ...x.rest];
    while (parts.length > 1 && width(parts[parts.length - 1]!) === 0) parts.pop(); // no trailing blanks
    return indent + parts.map((v, i) => (i === parts.length - 1 ? v : pad(v, widths[i] ?? 0))).join('  ');
  });
}
