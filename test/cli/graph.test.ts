// cald graph on a real program (sqlite3) imported into a private store: the nodes and edges
// against an oracle built with readelf from the stored objects themselves, sizes against stat,
// each format checked by an independent reader (Graphviz's dot, xmllint, headless Chromium with
// a screenshot checked for the colours the page draws), missing and changed objects marked.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { countColor, readPng } from '../helpers/png.js';
import { readelfDynamic } from '../helpers/readelf.js';
import { hasTool, run } from '../helpers/run.js';
import { makeTmp } from '../helpers/tmp.js';
import { assertOneLine } from '../store/helpers/robust.js';
import { cald } from './cald.js';

const SQLITE3 = '/usr/bin/sqlite3';
const HEX = /^cas:sha256:([0-9a-f]{64})/;

interface Graph {
  nodes: {
    id: string;
    label: string;
    digest: string | null;
    path: string | null;
    size: number | null;
    state: string;
    depth: number;
    dependents: number;
  }[];
  edges: { from: string; to: string; name: string }[];
  totals: { objects: number; shared: number; problems: number };
  ok: boolean;
}

/** Digest → its DT_NEEDED names, walked with readelf from the program object through the store. */
function readelfOracle(store: string, root: string): { objects: Map<string, string[]>; host: Set<string> } {
  const objects = new Map<string, string[]>();
  const host = new Set<string>();
  const todo = [root];
  while (todo.length > 0) {
    const hex = todo.pop()!;
    if (objects.has(hex)) continue;
    const needed = readelfDynamic(join(store, 'objects', 'sha256', hex)).needed;
    objects.set(hex, needed);
    for (const n of needed) {
      const m = HEX.exec(n);
      if (m) todo.push(m[1]!);
      else host.add(n);
    }
  }
  return { objects, host };
}

describe('cald graph', () => {
  const dir = makeTmp({ after }, 'graph');
  const store = join(dir, 'store');
  const env = { CALD_STORE: store };
  let rootHex = '';
  let g: Graph;

  before(() => {
    const r = cald(['import', SQLITE3], { env });
    assert.equal(r.status, 0, r.stderr);
    rootHex = /cas:sha256:([0-9a-f]{64})/.exec(r.stdout)![1]!;
    const j = cald(['graph', 'sqlite3', '--json'], { env });
    assert.equal(j.status, 0, j.stderr);
    g = JSON.parse(j.stdout);
  });

  test('one node per object and one edge per DT_NEEDED entry, as readelf reads the stored objects', () => {
    const oracle = readelfOracle(store, rootHex);
    const casNodes = g.nodes.filter((n) => n.digest !== null);
    assert.deepEqual(casNodes.map((n) => n.digest!.slice(7)).sort(), [...oracle.objects.keys()].sort());
    assert.deepEqual(
      g.nodes
        .filter((n) => n.state.startsWith('host'))
        .map((n) => n.label)
        .sort(),
      [...oracle.host].sort(),
    );
    const edgeCount = [...oracle.objects.values()].reduce((s, needed) => s + needed.length, 0);
    assert.equal(g.edges.length, edgeCount);
    for (const [hex, needed] of oracle.objects) {
      const from = g.edges.filter((e) => e.from === `sha256:${hex}`).map((e) => e.name);
      assert.deepEqual(from.sort(), [...needed].sort(), hex);
    }
    // Sizes are the objects' sizes on disk; shared = needed by more than one object.
    for (const n of casNodes)
      assert.equal(n.size, statSync(join(store, 'objects', 'sha256', n.digest!.slice(7))).size);
    const libc = g.nodes.find((n) => n.label === 'libc.so.6')!;
    const needingLibc = [...oracle.objects.entries()].filter(([, needed]) =>
      needed.some((x) => x.includes('libc.so.6')),
    );
    assert.equal(libc.dependents, needingLibc.length);
    assert.ok(libc.dependents > 1);
    assert.equal(g.totals.shared, g.nodes.filter((n) => n.dependents > 1).length);
    // Every edge points down a layer (the program is layer 0).
    const depth = new Map(g.nodes.map((n) => [n.id, n.depth]));
    for (const e of g.edges) assert.ok(depth.get(e.to)! > depth.get(e.from)!, `${e.from} -> ${e.to}`);
    assert.equal(g.nodes.find((n) => n.state === 'program')?.digest, `sha256:${rootHex}`);
  });

  test('text: layers with sizes, shared objects marked; no colour when piped', () => {
    const r = cald(['graph', 'sqlite3'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sqlite3: \d+ objects, [\d.]+ [kM]B; \d+ shared, 1 from the host$/m);
    assert.match(r.stdout, /^ {2}libc\.so\.6 .* shared by \d+ /m);
    assert.doesNotMatch(r.stdout, /\x1b\[/);
  });

  test('dot: Graphviz reads it and draws every node', (t) => {
    const r = cald(['graph', 'sqlite3', '--format', 'dot'], { env });
    assert.equal(r.status, 0, r.stderr);
    if (!hasTool('dot')) return t.skip('Graphviz (dot) is not installed');
    const svg = run('dot', ['-Tsvg'], { input: r.stdout });
    assert.equal(svg.status, 0, svg.stderr);
    assert.equal(svg.stdout.match(/class="node"/g)?.length, g.nodes.length);
    assert.equal(svg.stdout.match(/class="edge"/g)?.length, g.edges.length);
  });

  test('svg: well-formed XML with a group per node and a path per edge', (t) => {
    const out = join(dir, 'g.svg');
    const r = cald(['graph', 'sqlite3', '--format', 'svg', '-o', out], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const svg = readFileSync(out, 'utf8');
    assert.equal(svg.match(/<g class="node /g)?.length, g.nodes.length);
    assert.equal(svg.match(/<path class="edge"/g)?.length, g.edges.length);
    assert.doesNotMatch(svg, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'nothing fetched from elsewhere');
    if (!hasTool('xmllint')) return t.skip('xmllint (libxml2-utils) is not installed');
    const lint = run('xmllint', ['--noout', out]);
    assert.equal(lint.status, 0, lint.stderr);
  });

  test('html: one offline page; Chromium runs its script and draws the graph', (t) => {
    const out = join(dir, 'g.html');
    const r = cald(['graph', 'sqlite3', '--format', 'html', '-o', out], { env });
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(out, 'utf8');
    assert.doesNotMatch(html, /<(?:script|link|img)[^>]+(?:src|href)=/, 'no external resource');
    if (!hasTool('chromium')) return t.skip('chromium is not installed');
    const profile = makeTmp(t, 'chromium');
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--window-size=1000,800',
    ];
    const dom = run('chromium', [...flags, '--dump-dom', `file://${out}`], { timeoutMs: 90_000 });
    assert.equal(dom.status, 0, dom.stderr);
    assert.match(dom.stdout, new RegExp(`<body data-ready="${g.nodes.length}"`), 'the page script ran');
    const png = join(dir, 'g.png');
    const shot = run('chromium', [...flags, `--screenshot=${png}`, `file://${out}`], { timeoutMs: 90_000 });
    assert.equal(shot.status, 0, shot.stderr);
    const img = readPng(png);
    assert.deepEqual([img.width, img.height], [1000, 800]);
    // The program's fill (#cfe2ff), the libraries' (#eef8f0) and the shared ones' (#c8ebd0).
    assert.ok(countColor(img, 0xcf, 0xe2, 0xff) > 500, 'the program node is drawn');
    assert.ok(countColor(img, 0xee, 0xf8, 0xf0) > 500, 'library nodes are drawn');
    assert.ok(countColor(img, 0xc8, 0xeb, 0xd0) > 500, 'shared nodes are drawn');
  });

  test('missing and changed objects are marked, exit status 1', (t) => {
    const copy = join(makeTmp(t, 'graph-broken'), 'store');
    cpSync(store, copy, { recursive: true });
    const z = g.nodes.find((n) => n.label === 'libz.so.1')!;
    const tinfo = g.nodes.find((n) => n.label === 'libtinfo.so.6')!;
    rmSync(join(copy, 'objects', 'sha256', z.digest!.slice(7)));
    const tinfoPath = join(copy, 'objects', 'sha256', tinfo.digest!.slice(7));
    const bytes = readFileSync(tinfoPath);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(tinfoPath, bytes);
    const j = cald(['graph', 'sqlite3', '--json', '--store', copy]);
    assert.equal(j.status, 1, j.stderr);
    const broken: Graph = JSON.parse(j.stdout);
    assert.equal(broken.ok, false);
    assert.equal(broken.nodes.find((n) => n.id === z.id)?.state, 'missing');
    assert.equal(broken.nodes.find((n) => n.id === tinfo.id)?.state, 'tampered');
    assert.equal(broken.totals.problems, 2);
    const dot = cald(['graph', 'sqlite3', '--format', 'dot', '--store', copy]);
    assert.equal(dot.status, 1);
    assert.match(dot.stdout, /MISSING/);
    assert.match(dot.stdout, /TAMPERED/);
  });

  test('bad input: one line, the documented status, nothing written', () => {
    assertOneLine(cald(['graph', 'no-such-program'], { env }), 'unknown program', /no-such-program/);
    const format = cald(['graph', 'sqlite3', '--format', 'png'], { env });
    assert.equal(format.status, 2);
    assert.match(format.stderr, /--format png: not one of text, dot, svg, html/);
    const noDir = cald(['graph', 'sqlite3', '--format', 'svg', '-o', join(dir, 'nope', 'g.svg')], { env });
    assert.equal(noDir.status, 5, noDir.stderr);
    assertOneLine(
      noDir,
      'output in a missing directory',
      /cannot write .*nope\/g\.svg: no such file or directory/,
    );
  });
});
