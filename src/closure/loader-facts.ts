// What a glibc dynamic loader on this machine does that depends on how glibc was built and on the
// CPU: its system directories, the glibc-hwcaps and legacy hwcap subdirectories it searches, and the
// values of $PLATFORM and $LIB. The loader knows them best, so they are read from `ld.so --help`
// (glibc >= 2.33; elf/dl-usage.c prints exactly the lists elf/dl-hwcaps.c and elf/dl-load.c use)
// of the system loader at its fixed path; otherwise cald's own table (fallbackLoaderFacts).
import { spawnSync } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { EM_386, EM_AARCH64, EM_X86_64 } from '../elf/format/constants.js';

export interface LoaderFacts {
  /** The default directories (`--help`: "system search path"), in order, without trailing '/'. */
  systemDirs: readonly string[];
  /** Active glibc-hwcaps subdirectory names, most preferred first (e.g. x86-64-v3). */
  glibcHwcaps: readonly string[];
  /**
   * Legacy hwcap subdirectories tried under every search directory after the glibc-hwcaps ones,
   * in order, ending with '' (the directory itself). glibc 2.37 dropped them; 2.36 still tries
   * every combination of tls, the platform and the supported hwcap names.
   */
  legacySubdirs: readonly string[];
  /** $PLATFORM; undefined when the loader has none (then paths using it are dropped). */
  platform: string | undefined;
  /** $LIB. */
  lib: string;
  /** The cache ld.so reads. */
  cachePath: string;
  /** Where the facts came from, for reports. */
  source: string;
}

/** The subdirectories tried under each search directory, in order ('' is the directory itself). */
export function searchSubdirs(facts: LoaderFacts): string[] {
  return [...facts.glibcHwcaps.map((h) => `glibc-hwcaps/${h}`), ...facts.legacySubdirs];
}

/** x86 ISA level bits (GNU_PROPERTY_X86_ISA_1_*) supported, derived from the active x86-64-vN names. */
export function isaLevelsOf(facts: LoaderFacts, machine: number): number | undefined {
  if (machine !== EM_X86_64 && machine !== EM_386) return undefined;
  let bits = 1;
  if (facts.glibcHwcaps.includes('x86-64-v2')) bits |= 2;
  if (facts.glibcHwcaps.includes('x86-64-v3')) bits |= 4;
  if (facts.glibcHwcaps.includes('x86-64-v4')) bits |= 8;
  return bits;
}

/**
 * Every subset of `components`, largest first, as glibc 2.36's _dl_important_hwcaps orders the
 * legacy subdirectories: the first component is the most significant bit of a counter that runs
 * down from all-set to none.
 */
export function legacyCombinations(components: readonly string[]): string[] {
  const n = components.length;
  const out: string[] = [];
  for (let mask = (1 << n) - 1; mask >= 0; mask--) {
    const parts = components.filter((_, k) => (mask & (1 << (n - 1 - k))) !== 0);
    out.push(parts.join('/'));
  }
  return out;
}

/** Parses the output of `ld.so --help`; undefined when it lacks the search-path section. */
export function parseLoaderHelp(text: string, source: string): LoaderFacts | undefined {
  const lines = text.split('\n');
  const section = (title: string): string[] => {
    const start = lines.findIndex((l) => l.startsWith(title));
    if (start < 0) return [];
    const out: string[] = [];
    for (const l of lines.slice(start + 1)) {
      if (!l.startsWith('  ')) break;
      out.push(l.trim());
    }
    return out;
  };
  const systemDirs = section('Shared library search path:')
    .filter((l) => l.endsWith('(system search path)'))
    .map((l) => stripSlash(l.slice(0, -'(system search path)'.length).trim()));
  if (systemDirs.length === 0) return undefined;
  const glibcHwcaps = section('Subdirectories of glibc-hwcaps directories')
    .filter((l) => l.includes('searched)'))
    .map((l) => l.split(' ')[0] as string);
  let platform: string | undefined;
  let tls = false;
  const hwcapNames: string[] = [];
  for (const l of section('Legacy HWCAP subdirectories')) {
    const name = l.split(' ')[0] as string;
    const searched = l.includes('searched)');
    if (l.includes('AT_PLATFORM')) {
      // The platform is $PLATFORM whether or not its subdirectory is searched.
      platform = name;
    } else if (name === 'tls' && searched) tls = true;
    else if (searched) hwcapNames.push(name);
  }
  const platformSearched = section('Legacy HWCAP subdirectories').some(
    (l) => l.includes('AT_PLATFORM') && l.includes('searched)'),
  );
  const components = [
    ...(tls ? ['tls'] : []),
    ...(platform !== undefined && platformSearched ? [platform] : []),
    ...hwcapNames.reverse(),
  ];
  const legacySubdirs = legacyCombinations(components);
  return {
    systemDirs,
    glibcHwcaps,
    legacySubdirs,
    platform,
    lib: (systemDirs[0] as string).replace(/^\/+/, ''),
    cachePath: '/etc/ld.so.cache',
    source,
  };
}

function stripSlash(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

const probed = new Map<string, LoaderFacts | undefined>();

/**
 * The system's glibc loader for each ABI, at the fixed path the psABI gives it. cald asks only
 * these for their facts, never the interpreter a program names: PT_INTERP is input to import,
 * and import never runs what it imports (docs/closure.md, "Where the loader's facts come from").
 */
const SYSTEM_LOADERS: ReadonlyArray<{ machine: number; is64: boolean; path: string }> = [
  { machine: EM_X86_64, is64: true, path: '/lib64/ld-linux-x86-64.so.2' },
  { machine: EM_X86_64, is64: false, path: '/libx32/ld-linux-x32.so.2' },
  { machine: EM_386, is64: false, path: '/lib/ld-linux.so.2' },
  { machine: EM_AARCH64, is64: true, path: '/lib/ld-linux-aarch64.so.1' },
];

/** The fixed path of the system loader for a class and machine, if cald knows one. */
export function systemLoaderPath(machine: number, is64: boolean): string | undefined {
  return SYSTEM_LOADERS.find((l) => l.machine === machine && l.is64 === is64)?.path;
}

/**
 * Whether `path` may be run to ask it for facts: one of the fixed system loader paths, and the file
 * and every directory on its real path owned by root and writable by no one else (what sshd's
 * StrictModes asks of a key file). Anything else is never executed.
 */
export function isTrustedLoader(path: string): boolean {
  if (!SYSTEM_LOADERS.some((l) => l.path === path)) return false;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  const chain = [real];
  for (let d = dirname(real); ; d = dirname(d)) {
    chain.push(d);
    if (d === '/') break;
  }
  return chain.every((p, i) => {
    try {
      const st = statSync(p);
      return (i === 0 ? st.isFile() : st.isDirectory()) && st.uid === 0 && (st.mode & 0o022) === 0;
    } catch {
      return false;
    }
  });
}

/**
 * Asks the system loader at `interpreter` (a fixed trusted path: isTrustedLoader) for its facts;
 * undefined when the path is not trusted, it cannot be run or it does not support --help
 * (glibc < 2.33, another architecture). The answer is cached per path. GLIBC_TUNABLES is passed
 * on, since it changes the hwcaps.
 */
export function probeLoaderFacts(interpreter: string): LoaderFacts | undefined {
  if (probed.has(interpreter)) return probed.get(interpreter);
  let facts: LoaderFacts | undefined;
  if (isTrustedLoader(interpreter)) {
    const env: Record<string, string> = { LC_ALL: 'C' };
    const tunables = process.env.GLIBC_TUNABLES;
    if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
    const r = spawnSync(interpreter, ['--help'], { env, encoding: 'utf8', timeout: 10_000 });
    facts = r.status === 0 ? parseLoaderHelp(r.stdout, `${interpreter} --help`) : undefined;
  }
  probed.set(interpreter, facts);
  return facts;
}

/** A conservative guess when the loader cannot be asked: Debian-style multiarch, no hwcaps. */
export function fallbackLoaderFacts(machine: number, is64: boolean): LoaderFacts {
  const triplet =
    machine === EM_X86_64
      ? is64
        ? 'x86_64-linux-gnu'
        : 'x86_64-linux-gnux32'
      : machine === EM_386
        ? 'i386-linux-gnu'
        : undefined;
  const systemDirs =
    triplet === undefined
      ? ['/lib', '/usr/lib']
      : [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'];
  return {
    systemDirs,
    glibcHwcaps: [],
    legacySubdirs: [''],
    platform: undefined,
    lib: (systemDirs[0] as string).slice(1),
    cachePath: '/etc/ld.so.cache',
    source: 'built-in guess (the loader could not be asked)',
  };
}
