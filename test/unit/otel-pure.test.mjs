// The OTel integration's small parts, directly: the sample queue, the span
// holding logic (on real SDK spans), attribute mapping and times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVALID_SPAN_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SampleQueue, HOLD_MAX_MS, SpanLinks, hrTimeOf, STALL_EVENT, DELAYED_EVENT, attributesOf, instrumentKind, prometheusViews } from '../../dist/internal.js';
import { CATALOGUE, DEFAULT_PREFIX } from 'loopguard';

test('SampleQueue: fills to capacity, drains oldest first, survives a throwing consumer', () => {
  const q = new SampleQueue(3);
  assert.ok(q.push('a', 1, 10) && q.push('b', 2, 20) && q.push('c', 3, 30));
  assert.equal(q.push('d', 4, 40), false, 'full');
  const seen = [];
  const error = q.drain((key, first, second) => {
    seen.push([key, first, second]);
    if (key === 'b') throw new Error('bad sample');
  });
  assert.deepEqual(seen, [['a', 1, 10], ['b', 2, 20], ['c', 3, 30]]);
  assert.equal(error.message, 'bad sample');
  assert.equal(q.length, 0);
  assert.ok(q.push('d', 4, 40));
  assert.equal(q.drain(() => {}), undefined);
});

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer('test') };
}

const report = (over = {}) => ({
  id: 7, startedAt: Date.now() - 300, durationMs: 250.5, route: '/users/:id', method: 'GET', cause: 'request', victims: 3,
  stack: [
    { functionName: 'pbkdf2Sync', url: 'node:internal/crypto/pbkdf2', lineNumber: 10, columnNumber: 3 },
    { functionName: 'hashPassword', url: '/app/src/auth.js', lineNumber: 42, columnNumber: 7 },
  ],
  ...over,
});

test("SpanLinks: a held culprit span ends with its own end time, after the stall event", () => {
  const { exporter, tracer } = tracing();
  const links = new SpanLinks(100, (err) => assert.fail(err));
  const span = tracer.startSpan('GET /users/:id');
  links.hold({ id: 1, span });
  const endTime = hrTimeOf(Date.now());
  span.end(endTime); // the instrumentation ends it inside the stall
  assert.equal(exporter.getFinishedSpans().length, 0, 'held, not exported yet');
  links.culprit(1, report());
  const [ended] = exporter.getFinishedSpans();
  assert.deepEqual(ended.endTime, endTime, 'the end time is the one asked for');
  const event = ended.events.find((e) => e.name === STALL_EVENT);
  assert.equal(event.attributes['loopguard.stall.duration_ms'], 250.5);
  assert.equal(event.attributes['code.function.name'], 'hashPassword', 'the app frame, not the native call');
  assert.equal(event.attributes['code.line.number'], 42);
  assert.equal(event.attributes['code.stacktrace'].split('\n').length, 2);
  assert.equal(Object.hasOwn(span, 'end'), false, 'the span gets its own end method back');
  assert.equal(links.heldCount, 0);
});

test('SpanLinks: a span still open at report time gets the event and ends normally later', () => {
  const { exporter, tracer } = tracing();
  const links = new SpanLinks(100, (err) => assert.fail(err));
  const span = tracer.startSpan('GET /report');
  links.hold({ id: 2, span });
  links.culprit(2, report());
  assert.equal(exporter.getFinishedSpans().length, 0);
  span.end();
  assert.equal(exporter.getFinishedSpans()[0].events[0].name, STALL_EVENT);
});

test('SpanLinks: spans captured but not blamed are released without an event, by samples or by age', () => {
  const { exporter, tracer } = tracing();
  const links = new SpanLinks(100, (err) => assert.fail(err));
  const a = tracer.startSpan('a');
  const b = tracer.startSpan('b');
  links.hold({ id: 3, span: a });
  links.hold({ id: 4, span: b });
  a.end();
  b.end();
  links.samplesUsed([3]);
  assert.deepEqual(exporter.getFinishedSpans().map((s) => [s.name, s.events.length]), [['a', 0]]);
  links.sweep(performance.now() + HOLD_MAX_MS);
  assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), ['a', 'b']);
  links.culprit(4, report()); // too late: nothing to do, nothing thrown
  assert.equal(exporter.getFinishedSpans()[1].events.length, 0);
});

test('SpanLinks: victims get loopguard.delayed only from the threshold on; unsampled spans are left alone', () => {
  const { exporter, tracer } = tracing();
  const links = new SpanLinks(100, (err) => assert.fail(err));
  const waited = tracer.startSpan('waited');
  const quick = tracer.startSpan('quick');
  links.finished({ id: 5, span: waited }, 180.04);
  links.finished({ id: 6, span: quick }, 99.9);
  waited.end();
  quick.end();
  const [w, q] = exporter.getFinishedSpans();
  assert.deepEqual(w.events.map((e) => [e.name, e.attributes['loopguard.delay_ms']]), [[DELAYED_EVENT, 180]]);
  assert.equal(q.events.length, 0);
  // What an unsampled request carries: the API's non-recording span.
  const unsampled = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  links.hold({ id: 8, span: unsampled });
  assert.equal(links.heldCount, 0, 'non-recording spans are never held');
  assert.equal(Object.hasOwn(unsampled, 'end'), false);
});

test('hrTimeOf: epoch ms to [seconds, nanoseconds], carrying rounding overflow', () => {
  assert.deepEqual(hrTimeOf(1_700_000_000_123.5), [1_700_000_000, 123_500_000]);
  assert.deepEqual(hrTimeOf(1_700_000_000_999.9999999), [1_700_000_001, 0]);
});

test('attributes use semantic-convention names and leave out empty values', () => {
  assert.deepEqual(attributesOf({ route: '(background)', method: '', cause: 'background' }), {
    'http.route': '(background)',
    'loopguard.cause': 'background',
  });
  assert.deepEqual(attributesOf({ route: '/x', method: 'GET' }), { 'http.route': '/x', 'http.request.method': 'GET' });
  assert.ok(Object.isFrozen(attributesOf({ route: '/x' })));
});

test('instrument kinds follow the catalogue; Prometheus views name every instrument exactly', () => {
  const kinds = Object.fromEntries(CATALOGUE.map((d) => [d.key, instrumentKind(d)]));
  assert.equal(kinds.stalls, 'observableCounter');
  assert.equal(kinds.requestsInFlight, 'observableUpDownCounter', 'in-flight adds up across instances');
  assert.equal(kinds.eventloopUtilization, 'observableGauge');
  assert.equal(kinds.requestDelay, 'histogram');
  assert.deepEqual(prometheusViews().map((v) => v.name), CATALOGUE.map((d) => DEFAULT_PREFIX + d.name));
});
