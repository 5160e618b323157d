// When the heartbeat may slow to its idle pace: pure, one verdict per beat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleGate } from '../../dist/internal.js';

test('idle gate: idle after N quiet on-time beats in a row; any other beat ends it at once', () => {
  const gate = new IdleGate(3);
  assert.deepEqual([true, true].map((q) => gate.beat(q)), [false, false]);
  assert.equal(gate.beat(false), false, 'a busy beat restarts the count');
  assert.deepEqual([true, true, true, true].map((q) => gate.beat(q)), [false, false, true, true]);
  assert.equal(gate.beat(false), false);
  gate.beat(true);
  gate.reset();
  assert.deepEqual([true, true, true].map((q) => gate.beat(q)), [false, false, true], 'reset (a request) starts the count again');
});
