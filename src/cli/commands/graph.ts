import type { Command } from 'commander';
import picocolors from 'picocolors';
import type { GraphReport } from '../../api/graph.js';
import { UsageError } from '../../errors/index.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { Colors } from '../io.js';
import { STORE_OPTION } from '../options.js';

const FORMATS = ['text', 'dot', 'svg', 'html'] as const;
type Format = (typeof FORMATS)[number];

const EXAMPLES = `
Examples:
  $ cald graph ffmpeg                           objects by layer, shared ones marked
  $ cald graph ffmpeg --format html -o ffmpeg.html   one page, works offline: click an object
  $ cald graph sqlite3 --format dot | dot -Tpng > sqlite3.png
  $ cald graph git --json | jq '.nodes[] | select(.dependents > 1) | .label'

One node per object (an object needed by several is one node, marked shared), one edge per
DT_NEEDED entry, each object with its size and state: verified (read and hashed), from the host
(the loader, excluded libraries), or missing/changed (red). Exit status 1 when anything is missing
or changed, as for ldd.`;

interface GraphFlags {
  store?: string;
  format?: string;
  output?: string;
  json?: boolean;
}

function formatText(g: GraphReport, c: Colors, size: (n: number | null) => string): string {
  const lines = [
    `${c.bold(g.program.spec)}: ${g.totals.objects} objects, ${size(g.totals.bytes)}; ${g.totals.shared} shared, ${g.totals.host} from the host`,
  ];
  const byDepth = new Map<number, GraphReport['nodes']>();
  for (const n of g.nodes) byDepth.set(n.depth, [...(byDepth.get(n.depth) ?? []), n]);
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    lines.push(c.dim(`layer ${depth}`));
    for (const n of [...(byDepth.get(depth) ?? [])].sort((a, b) => a.label.localeCompare(b.label))) {
      const state =
        n.state === 'verified' || n.state === 'program'
          ? ''
          : n.state === 'host'
            ? c.dim(' host')
            : c.red(` ${n.state.toUpperCase()}`);
      const shared = n.dependents > 1 ? c.green(` shared by ${n.dependents}`) : '';
      lines.push(`  ${n.label}  ${size(n.size)}${shared}${state}  ${c.dim(n.digest ?? n.path ?? '')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('graph')
    .description('draw the dependency DAG of an imported program: text, dot, svg or one offline html page')
    .argument('<program>', 'imported program name, cas: URI, sha256: digest, hex prefix, or a path')
    .option(...STORE_OPTION)
    .option('--format <format>', `one of ${FORMATS.join(', ')} (default: text)`)
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--json', 'print the nodes and edges as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: GraphFlags) => {
      const { io } = ctx;
      const format = (flags.format ?? 'text') as Format;
      if (!FORMATS.includes(format)) {
        throw new UsageError(`--format ${flags.format}: not one of ${FORMATS.join(', ')}`);
      }
      const { graph } = await import('../../api/graph.js');
      const layout = await import('../format/graph-layout.js');
      const g = await graph({ program: name, ...(flags.store === undefined ? {} : { store: flags.store }) });
      let text: string;
      if (flags.json === true) text = `${JSON.stringify(g, null, 2)}\n`;
      else if (format === 'dot') text = (await import('../format/graph-dot.js')).formatDot(g);
      else if (format === 'svg') text = (await import('../format/graph-svg.js')).formatSvg(g);
      else if (format === 'html') text = (await import('../format/graph-html.js')).formatHtml(g);
      else text = formatText(g, flags.output === undefined ? io.outColors : plain, layout.formatSize);
      if (flags.output === undefined) io.out(text);
      // Whole or not at all (a full disk leaves the old file, not half a graph); into a device or FIFO as given.
      else await writeFileAtomic(flags.output, Buffer.from(text), { durable: false });
      ctx.setStatus(g.ok ? EXIT.OK : EXIT.FAILURE);
    });
}

const plain: Colors = picocolors.createColors(false);
