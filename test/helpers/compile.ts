// Builds the C fixture programs in variants (linker, PIE, page layout, relocation packing, ABI),
// each a program plus its own shared libraries, with the output it must print when it runs.
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type ProgramKind, type ProgramSpec, programs } from './c-programs.js';
import { repoPath } from './paths.js';
import { hasTool, run, runOk } from './run.js';

export type Linker = 'bfd' | 'gold' | 'lld' | 'mold';

export interface VariantSpec {
  name: string;
  description: string;
  program: ProgramKind;
  cc: 'cc' | 'musl-gcc';
  linker: Linker;
  pie: boolean;
  /** runpath: DT_RUNPATH ($ORIGIN based); rpath: DT_RPATH; none: run with LD_LIBRARY_PATH. */
  rpath: 'runpath' | 'rpath' | 'none';
  /** On every compile and link (e.g. -m32). */
  flags: string[];
  /** On every link, program and libraries alike. */
  ldflags: string[];
  /** Fixture sources (test/fixtures/c) compiled into every library and the program. */
  extraSources: string[];
  /** A reason to skip when a tool or feature is missing, else null. */
  unsupported: () => string | null;
}

export interface CFixture {
  variant: string;
  description: string;
  dir: string;
  program: string;
  /** The libraries in build order (leaf first), each named by its soname. */
  libs: string[];
  libDir: string;
  expectedStdout: string;
  /** What the program needs in its environment to find its libraries (LD_LIBRARY_PATH when it has no rpath). */
  env: Record<string, string>;
  spec: VariantSpec;
}

export interface SkippedVariant {
  variant: string;
  skipped: string;
}

export type BuildResult = CFixture | SkippedVariant;

export function isSkipped(r: BuildResult): r is SkippedVariant {
  return 'skipped' in r;
}

const linkerTool: Record<Linker, string> = { bfd: 'ld.bfd', gold: 'ld.gold', lld: 'ld.lld', mold: 'ld.mold' };

function needTools(...tools: string[]): () => string | null {
  return () => {
    const missing = tools.filter((t) => !hasTool(t));
    return missing.length ? `missing tool: ${missing.join(', ')}` : null;
  };
}

const helpCache = new Map<string, string>();
function helpMentions(tool: string, option: string): () => string | null {
  return () => {
    if (!hasTool(tool)) return `missing tool: ${tool}`;
    let help = helpCache.get(tool);
    if (help === undefined) {
      help = run(tool, ['--help']).stdout;
      helpCache.set(tool, help);
    }
    return help.includes(option) ? null : `${tool} does not support ${option}`;
  };
}

// Compiling "int main(void){return 0;}" is the only honest test that a toolchain mode works
// (e.g. -m32 needs libc6-dev-i386, which a machine may lack even with gcc present).
const probeCache = new Map<string, string | null>();
function probe(cc: string, flags: string[]): () => string | null {
  return () => {
    const key = [cc, ...flags].join(' ');
    const cached = probeCache.get(key);
    if (cached !== undefined) return cached;
    let reason: string | null = null;
    if (!hasTool(cc)) reason = `missing tool: ${cc}`;
    else {
      const r = run(cc, [...flags, '-x', 'c', '-', '-o', '/dev/null'], {
        input: 'int main(void){return 0;}\n',
      });
      if (r.status !== 0) reason = `${key} cannot link a program: ${r.stderr.split('\n')[0] ?? ''}`;
    }
    probeCache.set(key, reason);
    return reason;
  };
}

function all(...checks: Array<() => string | null>): () => string | null {
  return () => {
    for (const c of checks) {
      const r = c();
      if (r) return r;
    }
    return null;
  };
}

function variant(
  name: string,
  description: string,
  over: Partial<Omit<VariantSpec, 'name' | 'description'>>,
): VariantSpec {
  const linker = over.linker ?? 'bfd';
  const cc = over.cc ?? 'cc';
  const flags = over.flags ?? [];
  return {
    name,
    description,
    program: over.program ?? 'basic',
    cc,
    linker,
    pie: over.pie ?? true,
    rpath: over.rpath ?? 'runpath',
    flags,
    ldflags: over.ldflags ?? [],
    extraSources: over.extraSources ?? [],
    unsupported: all(needTools(linkerTool[linker]), probe(cc, flags), over.unsupported ?? (() => null)),
  };
}

const VARIANTS: readonly VariantSpec[] = [
  variant('bfd-pie-runpath', 'GNU ld, PIE, DT_RUNPATH $ORIGIN/lib', {}),
  variant('bfd-pie-rpath', 'GNU ld, PIE, DT_RPATH (--disable-new-dtags)', { rpath: 'rpath' }),
  variant('bfd-pie-norpath', 'GNU ld, PIE, no rpath (LD_LIBRARY_PATH)', { rpath: 'none' }),
  variant('bfd-nopie', 'GNU ld, non-PIE (ET_EXEC, copy relocation)', { pie: false }),
  variant('gold-pie', 'gold, PIE', { linker: 'gold' }),
  variant('gold-nopie', 'gold, non-PIE', { linker: 'gold', pie: false }),
  variant('lld-pie', 'lld, PIE', { linker: 'lld' }),
  variant('lld-nopie', 'lld, non-PIE', { linker: 'lld', pie: false }),
  variant('mold-pie', 'mold, PIE', { linker: 'mold' }),
  variant('mold-nopie', 'mold, non-PIE', { linker: 'mold', pie: false }),
  variant('bfd-separate-code', 'GNU ld -z separate-code (R, RX, R, RW segments)', {
    ldflags: ['-Wl,-z,separate-code'],
  }),
  variant('bfd-noseparate-code', 'GNU ld -z noseparate-code (RX, RW segments)', {
    ldflags: ['-Wl,-z,noseparate-code'],
  }),
  variant('bfd-relr', 'GNU ld -z pack-relative-relocs (DT_RELR, GLIBC_ABI_DT_RELR)', {
    ldflags: ['-Wl,-z,pack-relative-relocs'],
    unsupported: helpMentions('ld.bfd', 'pack-relative-relocs'),
  }),
  variant('lld-relr', 'lld --pack-dyn-relocs=relr (DT_RELR)', {
    linker: 'lld',
    ldflags: ['-Wl,--pack-dyn-relocs=relr'],
    extraSources: ['relr-abi.c'],
    unsupported: helpMentions('ld.lld', 'pack-dyn-relocs'),
  }),
  variant('tls', 'thread-local variables used across two libraries and the program', { program: 'tls' }),
  variant('tls-nopie', 'thread-local variables, non-PIE program (initial-exec TLS)', {
    program: 'tls',
    pie: false,
  }),
  variant('versioned', 'library with a version script and two versions of a symbol (DT_VERDEF/VERNEED)', {
    program: 'versioned',
  }),
  variant('big-dynstr', 'library exporting 5000 long-named symbols (big .dynstr, .dynsym, .gnu.hash)', {
    program: 'big',
  }),
  variant('maxpage-4k', 'GNU ld -z max-page-size=4096', { ldflags: ['-Wl,-z,max-page-size=4096'] }),
  variant('maxpage-64k', 'GNU ld -z max-page-size=65536', { ldflags: ['-Wl,-z,max-page-size=65536'] }),
  variant('m32-pie', 'i386 (-m32), PIE', { flags: ['-m32'] }),
  variant('m32-nopie', 'i386 (-m32), non-PIE', { flags: ['-m32'], pie: false }),
  variant('m32-tls', 'i386 (-m32), thread-local variables across libraries', {
    flags: ['-m32'],
    program: 'tls',
  }),
  variant('musl', 'musl libc (musl-gcc, /lib/ld-musl-x86_64.so.1)', { cc: 'musl-gcc' }),
];

export function allVariants(): VariantSpec[] {
  return [...VARIANTS];
}

export function variantSpec(name: string): VariantSpec {
  const spec = VARIANTS.find((v) => v.name === name);
  if (!spec) throw new Error(`unknown C fixture variant: ${name}`);
  return spec;
}

function rpathFlags(spec: VariantSpec, value: string): string[] {
  if (spec.rpath === 'none') return [];
  const tags = spec.rpath === 'rpath' ? '-Wl,--disable-new-dtags' : '-Wl,--enable-new-dtags';
  // Passed without a shell, so $ORIGIN reaches the linker as is.
  return [tags, `-Wl,-rpath,${value}`];
}

function linkFlags(spec: VariantSpec, prog: ProgramSpec, libDir: string): string[] {
  return [`-fuse-ld=${spec.linker}`, `-Wl,-rpath-link,${libDir}`, ...prog.ldflags, ...spec.ldflags];
}

/** Builds variant `name` into `dir` (created): dir/prog, dir/lib/<soname>..., dir/src/. */
export function buildVariant(name: string, dir: string): BuildResult {
  const spec = variantSpec(name);
  const why = spec.unsupported();
  if (why) return { variant: name, skipped: why };
  const prog = programs[spec.program];
  const srcDir = join(dir, 'src');
  const libDir = join(dir, 'lib');
  mkdirSync(srcDir, { recursive: true });
  mkdirSync(libDir, { recursive: true });
  const extra = spec.extraSources.map((s) => join(srcDir, s));
  for (const f of [...prog.fixtureFiles, ...spec.extraSources])
    copyFileSync(repoPath('test', 'fixtures', 'c', f), join(srcDir, f));
  prog.generate?.(srcDir);

  const common = ['-O2', '-Wall', '-Werror', ...spec.flags, ...prog.cflags];
  const libs: string[] = [];
  for (const lib of prog.libs) {
    const out = join(libDir, lib.soname);
    runOk(spec.cc, [
      ...common,
      ...(lib.cflags ?? []),
      '-fPIC',
      '-shared',
      '-o',
      out,
      ...lib.sources.map((s) => join(srcDir, s)),
      ...extra,
      ...lib.needs.map((n) => join(libDir, n)),
      `-Wl,-soname,${lib.soname}`,
      ...(lib.versionScript ? [`-Wl,--version-script=${join(srcDir, lib.versionScript)}`] : []),
      ...rpathFlags(spec, '$ORIGIN'),
      ...linkFlags(spec, prog, libDir),
    ]);
    libs.push(out);
  }
  const program = join(dir, 'prog');
  runOk(spec.cc, [
    ...common,
    ...(spec.pie ? ['-fPIE', '-pie'] : ['-fno-pie', '-no-pie']),
    '-o',
    program,
    ...prog.mainSources.map((s) => join(srcDir, s)),
    ...extra,
    // Linked by path: DT_NEEDED then holds the soname, not the path.
    ...prog.mainNeeds.map((n) => join(libDir, n)),
    ...rpathFlags(spec, '$ORIGIN/lib'),
    ...linkFlags(spec, prog, libDir),
  ]);
  return {
    variant: name,
    description: spec.description,
    dir,
    program,
    libs,
    libDir,
    expectedStdout: prog.expectedStdout,
    env: spec.rpath === 'none' ? { LD_LIBRARY_PATH: libDir } : {},
    spec,
  };
}

/** Runs a built fixture's program (LD_BIND_NOW=1 so every symbol is bound at start-up). */
export function runFixture(f: CFixture, env: Record<string, string> = {}) {
  return run(f.program, [], { env: { LD_BIND_NOW: '1', ...f.env, ...env }, timeoutMs: 10_000 });
}

/** A copy of a built fixture in `dir`, so each scenario edits fresh files. */
export function copyFixture(f: CFixture, dir: string): CFixture {
  cpSync(f.dir, dir, { recursive: true });
  const libDir = join(dir, 'lib');
  return {
    ...f,
    dir,
    program: join(dir, 'prog'),
    libs: f.libs.map((l) => join(libDir, basename(l))),
    libDir,
    env: f.spec.rpath === 'none' ? { LD_LIBRARY_PATH: libDir } : {},
  };
}
