// Imported by each *.prometheus-io.test.mjs twin after use-prometheus-io.mjs:
// a test that fails if the twin did not really run through that library
// (the variable lost, or loopguard's default picking the other client).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PROM_CLIENT, register } from './prom-lib.mjs';

test(`these tests run through ${PROM_CLIENT}, and loopguard's default registry is its`, async () => {
  assert.equal(PROM_CLIENT, process.env.LOOPGUARD_TEST_PROM_CLIENT);
  const require = createRequire(import.meta.url);
  assert.equal(register, require(PROM_CLIENT).register);
  const { createLoopGuard } = await import('loopguard');
  const guard = createLoopGuard({ otel: false });
  try {
    assert.ok(register.getSingleMetric('loopguard_stalls_total'), `loopguard registered in ${PROM_CLIENT}'s default registry`);
  } finally {
    guard.close();
  }
});
