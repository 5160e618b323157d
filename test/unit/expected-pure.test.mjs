// Expected blocking and advice through the stall pipeline, with fake samples
// and no timers; the option's validation; expectBlocking's store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallPipeline, expectedRouteTest, inExpectedCode, runExpected, adviceFor, resolveOptions } from '../../dist/internal.js';
import { InvalidOptionError } from 'loopguard';

const noTimers = { now: () => 0, setTimeout: () => 1, clearTimeout: () => undefined };
function pipelineWith(expectedRoutes, gcPauses = []) {
  const delivered = [];
  const pipeline = new StallPipeline(
    { heartbeatMs: 25, expectedRoute: expectedRouteTest(expectedRoutes) },
    { gcPauses: () => gcPauses, chargeStall() {}, culprit() {}, deliver: (r) => delivered.push(r), samplesUsed() {} },
    noTimers,
  );
  return { pipeline, delivered };
}
const frame = { functionName: 'exportAll', url: '/app/admin.js', lineNumber: 3, columnNumber: 1 };
const json = adviceFor('json', { call: 'JSON.stringify', kind: 'json', instead: '' });
const sample = (at, request, extra = {}) => ({ window: 1, at, asyncId: 9, request, stack: [frame], advice: json, ...extra });

test("a stall on a route declared expected is cause 'expected', with its route, stack and advice", () => {
  const { pipeline, delivered } = pipelineWith(['/admin/export', /^\/reports\//]);
  pipeline.measured({ window: 1, startedAt: 1000, durationMs: 400, inFlight: 2 }, true);
  pipeline.samplesArrived(1, [sample(1060, { id: 1, method: 'GET', route: '/admin/export' })]);
  pipeline.measured({ window: 2, startedAt: 2000, durationMs: 400, inFlight: 2 }, true);
  pipeline.samplesArrived(2, [{ ...sample(2060, { id: 2, method: 'GET', route: '/reports/:month' }), window: 2 }]);
  pipeline.measured({ window: 3, startedAt: 3000, durationMs: 400, inFlight: 2 }, true);
  pipeline.samplesArrived(3, [{ ...sample(3060, { id: 3, method: 'GET', route: '/admin/users' }), window: 3 }]);
  assert.deepEqual(delivered.map((r) => [r.route, r.cause]), [['/admin/export', 'expected'], ['/reports/:month', 'expected'], ['/admin/users', 'request']]);
  assert.equal(delivered[0].advice, json);
  assert.equal(delivered[0].stack[0], frame);
});

test('the route known only when the request finishes decides too', () => {
  const { pipeline, delivered } = pipelineWith(['/admin/import']);
  pipeline.measured({ window: 1, startedAt: 1000, durationMs: 400, inFlight: 1 }, true);
  pipeline.samplesArrived(1, [sample(1060, { id: 5, method: 'POST', route: null })]);
  assert.equal(delivered.length, 0, 'waiting for the route');
  pipeline.culpritFinished(5, '/admin/import');
  assert.deepEqual(delivered.map((r) => [r.route, r.cause]), [['/admin/import', 'expected']]);
});

test('code run by expectBlocking is expected, in a request or outside one', () => {
  const { pipeline, delivered } = pipelineWith([]);
  pipeline.measured({ window: 1, startedAt: 1000, durationMs: 400, inFlight: 0 }, true);
  pipeline.samplesArrived(1, [sample(1060, null, { expected: true })]);
  pipeline.measured({ window: 2, startedAt: 2000, durationMs: 400, inFlight: 0 }, true);
  pipeline.samplesArrived(2, [{ ...sample(2060, { id: 7, method: 'GET', route: '/x' }, { expected: true }), window: 2 }]);
  pipeline.measured({ window: 3, startedAt: 3000, durationMs: 400, inFlight: 0 }, true);
  pipeline.samplesArrived(3, [{ ...sample(3060, null), window: 3 }]);
  assert.deepEqual(delivered.map((r) => [r.route, r.cause]), [[null, 'expected'], ['/x', 'expected'], [null, 'background']]);
});

test('a GC stall gets the gc advice; a stall with no samples gets none', () => {
  const { pipeline, delivered } = pipelineWith([], [{ start: 1000, end: 1350 }]);
  pipeline.measured({ window: 1, startedAt: 1000, durationMs: 400, inFlight: 0 }, false);
  assert.deepEqual([delivered[0].cause, delivered[0].advice?.kind, delivered[0].advice?.call], ['gc', 'gc', null]);
  const none = pipelineWith([]);
  none.pipeline.measured({ window: 1, startedAt: 1000, durationMs: 400, inFlight: 0 }, false);
  assert.equal(none.delivered[0].advice, null);
});

test('expectBlocking marks its synchronous run and what it awaits, and nothing after', async () => {
  assert.equal(inExpectedCode(), false);
  const seen = [];
  const result = await runExpected(async () => {
    seen.push(inExpectedCode());
    await new Promise((resolve) => setTimeout(resolve, 1));
    seen.push(inExpectedCode());
    return 42;
  });
  assert.equal(result, 42);
  assert.deepEqual(seen, [true, true]);
  assert.equal(inExpectedCode(), false);
});

test('expectedBlockingRoutes: validated at construction, naming the option; RegExps lose g/y', () => {
  assert.deepEqual(resolveOptions({}).expectedBlockingRoutes, []);
  const resolved = resolveOptions({ expectedBlockingRoutes: ['/admin/export', /^\/reports\//gy] }).expectedBlockingRoutes;
  assert.equal(resolved[1].flags, '');
  const test = expectedRouteTest(resolved);
  assert.ok(test('/reports/a') && test('/reports/b'), 'a stateful lastIndex would fail the second');
  assert.equal(test('/admin/exports'), false, 'templates match exactly');
  for (const [value, name] of [['/admin', 'expectedBlockingRoutes'], [['admin/export'], 'expectedBlockingRoutes[0]'], [['/a', 42], 'expectedBlockingRoutes[1]']]) {
    assert.throws(() => resolveOptions({ expectedBlockingRoutes: value }), (err) => err instanceof InvalidOptionError && err instanceof TypeError && err.message.includes(name), String(value));
  }
});
