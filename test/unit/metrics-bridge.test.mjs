// MetricsBridge, the main thread's side of the worker-served /metrics, driven
// with the worker's messages and a fake registry: what it answers, where it
// says the endpoint listens, and that no failure escapes `handle`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopGuardError } from 'loopguard';
import { MetricsBridge } from '../../dist/internal.js';

function bridge({ registry } = {}) {
  const errors = [];
  const listening = [];
  const b = new MetricsBridge({ registry: () => (typeof registry === 'function' ? registry() : registry), onListening: (a) => listening.push(a), onError: (e) => errors.push(e) });
  return { b, errors, listening };
}

/** Sends one message; resolves with every reply once `count` have come. */
function ask(b, message, count = 1) {
  return new Promise((resolve) => {
    const replies = [];
    b.handle(message, (m) => {
      replies.push(m);
      if (replies.length === count) resolve(replies);
    });
  });
}

const exportFailed = (e) => e instanceof LoopGuardError && e.code === 'LOOPGUARD_EXPORT_FAILED';

test('a collect request is answered with the registry as JSON and its content type, under the same id', async () => {
  const metrics = [{ name: 'loopguard_stalls_total', type: 'counter', values: [{ value: 3, labels: {} }] }];
  const { b, errors } = bridge({ registry: { contentType: 'text/plain; version=0.0.4', getMetricsAsJSON: async () => metrics } });
  const [reply] = await ask(b, { type: 'metrics:collect', id: 7 });
  assert.deepEqual(reply, { type: 'metrics:collected', id: 7, metrics, contentType: 'text/plain; version=0.0.4' });
  assert.deepEqual(errors, []);
});

test('with no registry the answer is an empty exposition, not silence the worker would wait on', async () => {
  const { b } = bridge({ registry: undefined });
  const [reply] = await ask(b, { type: 'metrics:collect', id: 1 });
  assert.deepEqual(reply, { type: 'metrics:collected', id: 1, metrics: [] });
});

test('a registry that fails, synchronously or not, is reported once and answered with the error', async () => {
  for (const getMetricsAsJSON of [async () => Promise.reject(new Error('collector broke')), () => { throw new Error('collector broke'); }]) {
    const { b, errors } = bridge({ registry: { contentType: 'x', getMetricsAsJSON } });
    const [reply] = await ask(b, { type: 'metrics:collect', id: 2 });
    assert.deepEqual(reply, { type: 'metrics:collected', id: 2, error: 'collector broke' });
    assert.equal(errors.length, 1);
    assert.ok(exportFailed(errors[0]));
    assert.match(errors[0].message, /collecting the metrics failed: collector broke/);
  }
});

test('metrics that cannot be passed to the worker are reported, and the worker still gets an answer', async () => {
  const { b, errors } = bridge({ registry: { contentType: 'x', getMetricsAsJSON: async () => [{ name: 'm', values: [] }] } });
  let calls = 0;
  const replies = await new Promise((resolve) => {
    const seen = [];
    b.handle({ type: 'metrics:collect', id: 3 }, (m) => {
      seen.push(m);
      // The first answer fails as postMessage does on a value it cannot clone.
      if (calls++ === 0) throw new Error('function could not be cloned');
      resolve(seen);
    });
  });
  assert.deepEqual(replies.at(-1), { type: 'metrics:collected', id: 3, error: 'function could not be cloned' });
  assert.equal(errors.length, 1);
  assert.ok(exportFailed(errors[0]));
  assert.match(errors[0].message, /passing the metrics to the metrics server failed/);
});

test('where the endpoint listens: a URL that can be fetched, wildcard binds on loopback, IPv6 in brackets', () => {
  const cases = [
    [{ host: '127.0.0.1', port: 9464, path: '/metrics' }, 'http://127.0.0.1:9464/metrics'],
    [{ host: '0.0.0.0', port: 9464, path: '/metrics' }, 'http://127.0.0.1:9464/metrics'],
    [{ host: '::', port: 9100, path: '/m' }, 'http://[::1]:9100/m'],
    [{ host: 'fd00::5', port: 80, path: '/metrics' }, 'http://[fd00::5]:80/metrics'],
  ];
  for (const [where, url] of cases) {
    const { b, listening } = bridge();
    b.handle({ type: 'metrics:listening', ...where }, () => assert.fail('no reply to a notice'));
    assert.deepEqual(b.address, { url, ...where });
    assert.deepEqual(listening, [b.address], 'the hook hears the same address');
  }
});

test('the worker\'s error becomes a coded error; unknown messages and a throwing hook never escape handle()', () => {
  const { b, errors } = bridge({ registry: () => { throw new Error('registry hook broke'); } });
  b.handle({ type: 'metrics:error', message: 'listen EADDRINUSE 127.0.0.1:9464' }, () => {});
  assert.ok(exportFailed(errors[0]));
  assert.equal(errors[0].message, 'loopguard: listen EADDRINUSE 127.0.0.1:9464');
  b.handle({ type: 'metrics:something-new' }, () => assert.fail('no reply'));
  assert.equal(errors.length, 1, 'an unknown message is ignored');
  assert.doesNotThrow(() => b.handle({ type: 'metrics:collect', id: 4 }, () => {}));
  assert.equal(errors.length, 2);
  assert.match(errors[1].message, /registry hook broke/);
});
