// The checks a tree passes before anything is stored: links that escape, links that loop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addNode, checkLinks, newDir } from '../../src/tree/index.js';

function treeOf(links: Record<string, string>, dirs: string[] = [], files: string[] = []) {
  const root = newDir();
  for (const d of dirs) addNode(root, d, newDir());
  for (const f of files) addNode(root, f, { kind: 'file', source: '/dev/null', executable: false });
  for (const [path, target] of Object.entries(links)) addNode(root, path, { kind: 'link', target });
  return root;
}

test('links that stay inside, lead to the host on purpose, or to nothing are kept', () => {
  checkLinks(treeOf({ '/usr/bin/python3': 'python3.11' }, [], ['/usr/bin/python3.11']));
  checkLinks(treeOf({ '/lib': 'usr/lib', '/usr/lib/a': '../../lib/b' }, ['/usr/lib'], ['/usr/lib/b']));
  checkLinks(treeOf({ '/usr/lib/python3.11/sitecustomize.py': '/etc/python3.11/sitecustomize.py' }));
  checkLinks(treeOf({ '/dangling': 'nothing/here' }));
  // Climbing to the root and down again stays inside.
  checkLinks(treeOf({ '/a/b/c': '../../x/y' }, ['/a/b', '/x']));
});

test('a link above the root escapes, also through another link', () => {
  assert.throws(() => checkLinks(treeOf({ '/a/x': '../../etc/passwd' }, ['/a'])), /leads out of the tree/);
  assert.throws(() => checkLinks(treeOf({ '/x': '..' })), /leads out of the tree/);
  // /up -> d/.. is the root; /up/../z climbs above it.
  assert.throws(
    () => checkLinks(treeOf({ '/up': 'd/..', '/esc': 'up/../z' }, ['/d'])),
    /esc -> up\/\.\.\/z leads out/,
  );
});

test('links that come back to themselves are a loop, however long', () => {
  assert.throws(() => checkLinks(treeOf({ '/a': 'a' })), /\/a -> \/a form a loop/);
  assert.throws(() => checkLinks(treeOf({ '/a': 'b', '/b': 'c', '/c': 'a' })), /form a loop/);
  assert.throws(() => checkLinks(treeOf({ '/d/l': '../d/l/x' }, ['/d'])), /form a loop/);
});

test('one path given twice as different things is refused', () => {
  const root = newDir();
  addNode(root, '/x', newDir());
  assert.throws(() => addNode(root, '/x', { kind: 'link', target: 'y' }), /given twice/);
  assert.throws(() => addNode(root, '/x/../y', newDir()), /escape the tree|not one name/);
});
