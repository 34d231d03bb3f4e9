// Enforces the one-way import direction between src/ folders (docs/design.md, "Layers").
// Every folder may import src/errors and src/util; beyond that, only what its entry lists.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const allowed = {
  errors: [],
  util: [],
  'elf/format': [],
  'elf/read': ['elf/format'],
  'elf/write': ['elf/format'],
  'elf/edit': ['elf/format', 'elf/read', 'elf/write'],
  store: [],
  tree: ['store'],
  closure: ['elf/format', 'elf/read', 'elf/write', 'elf/edit', 'store'],
  importer: ['elf/format', 'elf/read', 'elf/write', 'elf/edit', 'store', 'tree', 'closure', 'runtime'],
  runtime: ['elf/format', 'elf/read', 'elf/write', 'elf/edit', 'store'],
  remote: ['store'],
  api: [
    'elf/format',
    'elf/read',
    'elf/write',
    'elf/edit',
    'store',
    'tree',
    'closure',
    'importer',
    'runtime',
    'remote',
  ],
  cli: ['api'],
  '.': ['api'],
};
const everywhere = ['errors', 'util'];

function layerOf(file) {
  const rel = relative('src', file);
  for (const layer of Object.keys(allowed).sort((a, b) => b.length - a.length)) {
    if (layer !== '.' && (rel === layer || rel.startsWith(`${layer}/`))) return layer;
  }
  return '.';
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const problems = [];
for (const file of walk('src')) {
  const from = layerOf(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]/g)) {
    const target = layerOf(relative('.', resolve(dirname(file), m[1])));
    if (target === from || everywhere.includes(target) || allowed[from].includes(target)) continue;
    problems.push(`${file}: layer '${from}' may not import '${m[1]}' (layer '${target}')`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`check-layers: ${walk('src').length} files follow the import direction`);
