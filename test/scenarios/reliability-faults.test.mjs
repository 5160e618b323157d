// Faults in the host app must look exactly the same with loopguard mounted:
// every response byte for byte, and no per-request state left behind. No
// stall here: never retried by the suite runner (the stall case is in
// reliability-faults-stall.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/server.mjs';
import { raw, REQUESTS, start } from '../helpers/faults-app.mjs';

test('every response is byte for byte what the app sends without loopguard, and nothing stays in flight', async () => {
  const bare = await start(false);
  const guarded = await start(true);
  try {
    for (const [name, request] of Object.entries(REQUESTS)) {
      const expected = await raw(bare.url, request);
      const actual = await raw(guarded.url, request);
      assert.ok(expected.length > 0, `${name}: the bare app answered`);
      assert.equal(actual, expected, name);
    }
    assert.equal(guarded.guard.snapshot().requestsInFlight, 0);
  } finally {
    await bare.close();
    await guarded.close();
    guarded.guard.close();
  }
});

test('clients that abort mid-request, and requests that never finish, release their state', async () => {
  const app = await start(true);
  try {
    for (const path of ['/slow', '/never']) {
      const closed = waitFor(app.closed, 'closed', (url) => url === path);
      const controller = new AbortController();
      const pending = fetch(app.url + path, { signal: controller.signal }).catch((err) => err);
      await waitFor(app.server, 'request', () => true).catch(() => undefined).then(() => undefined);
      controller.abort();
      await pending;
      await closed;
      assert.equal(app.guard.snapshot().requestsInFlight, 0, `${path}: in flight after abort`);
    }
  } finally {
    await app.close();
    app.guard.close();
  }
});
