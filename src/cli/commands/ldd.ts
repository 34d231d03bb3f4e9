import type { Command } from 'commander';
import type { LddReport } from '../../api/ldd.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatTree, splitName, type TreeRow } from '../format/name-tree.js';
import type { Colors } from '../io.js';
import { STORE_OPTION } from '../options.js';

const EXAMPLES = `
Examples:
  $ cald ldd ffmpeg
  $ cald ldd --json cas:sha256:3a1f…9c | jq '.problems'
  $ cald ldd --flat ffmpeg                  each library once, by name (like ldd)
  $ cald ldd --depth 1 ffmpeg               only what ffmpeg itself needs

A tree: each cas: name as its hint and its hash side by side, whether the object exists and
hashes to its name (cald reads and hashes every object), and the object's path; normal names (the
loader, host libraries) with the file the host loader picks (ld.so --list under the audit
environment). A name already shown is marked "(above)". Coloured on a terminal (not with
NO_COLOR, nor when piped). Exit status 1 when anything is missing or tampered.`;

interface LddFlags {
  store?: string;
  json?: boolean;
  depth?: string;
  flat?: boolean;
}

/** How much of the tree the text shows. */
export interface LddView {
  /** Levels of the tree shown (1: the program's own needs); all by default. */
  depth?: number;
  /** Each object once, not indented, named by its hint (like ldd(1)). */
  flat?: boolean;
}

type Node = LddReport['needed'][number];

function stateText(n: Node, c: Colors): string {
  switch (n.state) {
    case 'verified':
      return c.green(n.seen === true ? 'verified (above)' : 'verified');
    case 'host':
      return c.dim('host');
    case 'tampered':
      return c.red(`TAMPERED: hashes to ${n.actual ?? '?'}`);
    case 'missing':
      return c.red('MISSING');
    case 'host-unknown':
      return c.yellow('host (not resolved: the loader stopped)');
    case 'host-missing':
      return c.red(`NOT FOUND${n.message === undefined ? '' : `: ${n.message}`}`);
    default:
      return c.red(`${n.state.toUpperCase()}${n.message === undefined ? '' : `: ${n.message}`}`);
  }
}

export function formatLdd(r: LddReport, c: Colors, view: LddView = {}): string {
  const lines: string[] = [];
  const p = r.program;
  if (r.script !== undefined) {
    // A #!cas: script: itself, then its #! line (the interpreter's hint and hash, its arguments).
    const sc = r.script;
    lines.push(
      sc.digest === null
        ? `${c.bold(sc.spec)}  ${c.dim('(not in the store)')}  ${sc.path}`
        : `${c.bold(sc.spec)}  ${c.cyan(sc.digest.slice(0, 19))}  ${c.green('verified')}  ${sc.path}`,
    );
    const [line] = formatTree(
      [{ depth: 0, last: true, name: sc.interpreter, rest: sc.args.length > 0 ? [sc.args.join(' ')] : [] }],
      c,
    );
    lines.push(`  #! ${(line ?? '').slice(3)}`);
  }
  const spec = r.script === undefined ? p.spec : splitName(p.spec).label;
  lines.push(
    p.digest === null
      ? `${c.bold(spec)}  ${c.dim('(not in the store)')}  ${p.path}`
      : `${c.bold(spec)}  ${c.cyan(p.digest.slice(0, 19))}  ${c.green('verified')}  ${p.path}`,
  );
  if (r.interpreter !== null) {
    const i = r.interpreter;
    const how =
      i.noted === null
        ? 'host (no interpreter note)'
        : i.use === 'host'
          ? `host, matches ${i.noted}`
          : i.use === 'stored'
            ? `stored loader ${i.stored} (host is ${i.host ?? 'missing'}, imported with ${i.noted})`
            : c.red(`MISSING: imported with ${i.noted}, host is ${i.host ?? 'missing'}`);
    lines.push(`  interpreter ${i.path}: ${how}`);
  }
  const maxDepth = view.depth ?? Number.POSITIVE_INFINITY;
  const shown = new Set<string>();
  // The tree: hint and hash side by side, then the state and the file (name-tree.ts).
  const rows: TreeRow[] = [];
  const walk = (nodes: readonly Node[], depth: number) => {
    nodes.forEach((n, i) => {
      if (view.flat === true) {
        if (!shown.has(n.name)) {
          const { seen: _, ...first } = n;
          lines.push(`  ${n.hint ?? n.name} => ${n.path ?? 'not found'}  ${stateText(first, c)}`);
        }
        shown.add(n.name);
      } else {
        rows.push({
          depth,
          last: i === nodes.length - 1,
          name: n.name,
          rest: [stateText(n, c), n.seen === true ? '' : (n.path ?? 'not found')],
        });
      }
      if (n.needed !== undefined && depth + 1 < maxDepth) walk(n.needed, depth + 1);
    });
  };
  walk(r.needed, 0);
  lines.push(...formatTree(rows, c));
  if (r.hostLoaderError !== null) lines.push(`  ${c.yellow('host loader:')} ${r.hostLoaderError}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('ldd')
    .description('show the resolved library tree of an imported program, verifying every object')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest, hex prefix, or a path')
    .option(...STORE_OPTION)
    .option('--json', 'print the report as JSON')
    .option('--depth <n>', 'show N levels of the tree (1: what the program itself needs)')
    .option('--flat', 'each object once, by the name it is needed as (like ldd)')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: LddFlags) => {
      const { io } = ctx;
      const depth = flags.depth === undefined ? undefined : Number(flags.depth);
      if (depth !== undefined && !(Number.isInteger(depth) && depth > 0)) {
        const { UsageError } = await import('../../errors/index.js');
        throw new UsageError(`--depth ${JSON.stringify(flags.depth)} is not a positive integer`);
      }
      const { ldd } = await import('../../api/ldd.js');
      const r = await ldd({ program: name, ...(flags.store === undefined ? {} : { store: flags.store }) });
      if (flags.json === true) {
        io.out(`${JSON.stringify(r, null, 2)}\n`);
      } else {
        io.out(
          formatLdd(r, io.outColors, {
            ...(depth === undefined ? {} : { depth }),
            ...(flags.flat === true ? { flat: true } : {}),
          }),
        );
        const c = io.errColors;
        for (const pr of r.problems) {
          io.err(
            `${c.bold(c.red('cald:'))} ${pr.state} ${pr.name}${pr.path === null ? '' : ` (${pr.path})`}\n`,
          );
        }
        if (r.problems.some((pr) => pr.state === 'tampered')) {
          io.err(
            `${c.yellow('hint:')} cald verify --repair restores changed objects from their original files\n`,
          );
        }
      }
      ctx.setStatus(r.ok ? EXIT.OK : EXIT.FAILURE);
    });
}
