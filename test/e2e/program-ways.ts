// One real program, imported into a fresh store, then each of its cases run every way cald offers
// (cald run in audit and names mode, the installed launcher, `eval "$(cald env)"` in bash in audit
// and names mode), each compared with the original program: stdout, exit status, stderr.
// DT_AUDIT (no environment at all) is in dt-audit.slow.test.ts: it changes the machine.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTmp } from '../helpers/tmp.js';
import {
  assertSame,
  baseEnv,
  caldCli,
  direct,
  hostMapped,
  importInto,
  type Outcome,
  programSpec,
  programsMissing,
  type Runner,
  runCase,
  splitMaps,
  viaCaldRun,
  viaEnv,
  writeCaldShim,
} from './e2e.js';

const WAYS = [
  'cald run --mode audit',
  'cald run --mode names',
  'launcher',
  'env audit',
  'env names',
] as const;
type Way = (typeof WAYS)[number];
const AUDITED: ReadonlySet<Way> = new Set<Way>(['cald run --mode audit', 'launcher', 'env audit']);

export function programWays(key: string): void {
  const spec = programSpec(key);
  const skip = programsMissing();
  if (skip) {
    test(`${key}: every way`, { skip }, () => {});
    return;
  }
  const dir = makeTmp({ after: (fn) => process.on('exit', fn) }, `e2e-${key}`);
  const home = join(dir, 'home');
  const env = baseEnv(home);
  const store = join(dir, 'store');
  const shim = writeCaldShim(dir);
  const imp = importInto(store, spec.importArgs, env);
  const launcher = join(dir, 'bin', imp.program.name);

  const runners: Record<Way | 'original', Runner> = {
    original: direct(spec.path),
    'cald run --mode audit': viaCaldRun(store, imp.program.name, 'audit'),
    'cald run --mode names': viaCaldRun(store, imp.program.name, 'names'),
    // The launcher gets no CALD_STORE: it must use the store recorded in it at install.
    launcher: direct(launcher),
    'env audit': viaEnv(store, imp.program.object, 'audit', shim),
    'env names': viaEnv(store, imp.program.object, 'names', shim),
  };

  const installed = caldCli(['install', imp.program.name, '--bin', join(dir, 'bin'), '--store', store], env);

  test(`${key}: imported (${imp.objects} objects, ${Math.round(imp.ms)} ms) and installed`, (t) => {
    t.diagnostic(`${imp.program.uri}  ${imp.program.path}`);
    assert.equal(installed.status, 0, installed.stderr);
  });

  for (const c of spec.cases) {
    const want: Outcome[] = runCase(c, runners.original, env, join(dir, 'work'), `original-${c.label}`);
    for (const way of WAYS) {
      test(`${key} ${c.label}: ${way} gives the original's output`, (t) => {
        const t0 = performance.now();
        const got = runCase(c, runners[way], env, join(dir, 'work'), `${way}-${c.label}`);
        t.diagnostic(`${c.steps.length} step(s) in ${Math.round(performance.now() - t0)} ms`);
        assertSame(c, want, got, way);
        if (key !== 'python3') return;
        // Where python's extension modules (and their libraries) were mapped from.
        const original = hostMapped(splitMaps(want[0]!.stdout)[1], store);
        assert.ok(
          original.some((f) => f.includes('/lib-dynload/')),
          'the original maps lib-dynload modules (the check can fail)',
        );
        const host = hostMapped(splitMaps(got[0]!.stdout)[1], store);
        if (AUDITED.has(way)) {
          assert.deepEqual(host, [], `${way}: ELF files mapped from the host, not the store`);
        } else {
          t.diagnostic(`names mode maps ${host.length} ELF files from the host: ${host.join(' ')}`);
        }
      });
    }
    if (key === 'python3') {
      // Only the audit resolver maps paths (from the program's path note): with the name directory
      // alone, a dlopen by absolute path (python's extension modules) loads the host's file.
      test(`${key} ${c.label}: names mode loads the extension modules from the host, and shows it`, () => {
        const got = runCase(
          c,
          runners['cald run --mode names'],
          env,
          join(dir, 'work'),
          `names-host-${c.label}`,
        );
        const host = hostMapped(splitMaps(got[0]!.stdout)[1], store);
        assert.ok(
          host.some((f) => f.includes('/lib-dynload/')),
          `names mode: expected host lib-dynload modules, got ${host.join(' ')}`,
        );
      });
    }
  }
}
