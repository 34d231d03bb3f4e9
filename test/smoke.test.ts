import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaldError } from '../src/errors/index.js';

test('CaldError carries a stable code and serializes', () => {
  const e = new CaldError('X_CODE', 'what happened', { hint: 'do this' });
  assert.equal(e.code, 'X_CODE');
  assert.deepEqual(JSON.parse(JSON.stringify(e)), {
    error: 'CaldError',
    code: 'X_CODE',
    message: 'what happened',
    hint: 'do this',
  });
});
