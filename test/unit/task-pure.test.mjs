// Pool tasks as culprits, the parts with no thread or timer: task names,
// their context, their cap under maxRoutes, the pipeline's `task` cause, and
// the sight of piscina's task messages (on a real MessageChannel, with
// piscina's message shapes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import workerThreads, { MessageChannel } from 'node:worker_threads';
import { createLoopGuard } from 'loopguard';
import {
  isPiscinaWorker,
  isTaskName,
  MAX_TASK_NAME,
  piscinaTaskName,
  requestStore,
  RouteTable,
  runTask,
  StallPipeline,
  watchPiscinaTasks,
} from '../../dist/internal.js';

test('piscinaTaskName: <file>#<export>, the file relative to the working directory, else its base name', () => {
  assert.equal(piscinaTaskName('/srv/app/tasks/resize.mjs', 'default', '/srv/app'), 'tasks/resize.mjs#default');
  assert.equal(piscinaTaskName('/srv/app/tasks/resize.mjs', 'thumbnail', '/srv/app'), 'tasks/resize.mjs#thumbnail');
  assert.equal(piscinaTaskName('file:///srv/app/tasks/my%20task.mjs', 'run', '/srv/app'), 'tasks/my task.mjs#run');
  assert.equal(piscinaTaskName('/opt/lib/node_modules/x/worker.js', null, '/srv/app'), 'worker.js#default', 'outside the app: the base name only');
  assert.equal(piscinaTaskName(null, 'run', '/srv/app'), '(pool)#run');
  const long = piscinaTaskName(`/srv/app/${'deep/'.repeat(20)}task.mjs`, 'run', '/srv/app');
  assert.equal(long.length, MAX_TASK_NAME);
  assert.ok(long.startsWith('…') && long.endsWith('/task.mjs#run'), long);
  assert.equal(piscinaTaskName('/srv/app/a.mjs', 'x\ny', '/srv/app'), 'a.mjs#x?y', 'no control characters in a label');
});

test('isTaskName: 1–64 characters without control characters', () => {
  assert.ok(isTaskName('resize'));
  assert.ok(isTaskName('x'.repeat(MAX_TASK_NAME)));
  for (const bad of ['', 'x'.repeat(MAX_TASK_NAME + 1), 'a\tb', 42, null, undefined]) assert.equal(isTaskName(bad), false, JSON.stringify(bad));
});

test('isPiscinaWorker: piscina 5 and 4 worker scripts, nothing else', () => {
  assert.ok(isPiscinaWorker('/app/node_modules/piscina/dist/worker.js'));
  assert.ok(isPiscinaWorker('C:\\app\\node_modules\\piscina\\dist\\src\\worker.js'));
  assert.ok(isPiscinaWorker('/app/node_modules/.pnpm/piscina@5.3.2/node_modules/piscina/dist/worker.js'));
  assert.equal(isPiscinaWorker('/app/worker.js'), false);
  assert.equal(isPiscinaWorker(undefined), false);
});

test('runTask: fn runs in a task record named by the task, closed when its result settles', async () => {
  let seen;
  const value = runTask('resize', () => {
    seen = requestStore.getStore();
    return 7;
  });
  assert.equal(value, 7);
  assert.deepEqual([seen.task, seen.finalRoute, seen.routeOf(), seen.method, seen.finished], [true, 'resize', 'resize', '', true]);

  let release;
  let inside;
  const pending = runTask('export', async () => {
    await new Promise((resolve) => (release = resolve));
    inside = requestStore.getStore();
  });
  const record = inside ?? null;
  assert.equal(record, null, 'not run past its await yet');
  release();
  await pending;
  assert.equal(inside.finalRoute, 'export', 'the context survives an await');
  assert.equal(inside.finished, true);
  assert.throws(() => runTask('boom', () => { throw new Error('x'); }), /x/);
});

test('guard.task: a coded TypeError names the bad argument; the result passes through', () => {
  const guard = createLoopGuard({ prometheus: false, otel: false, captureStacks: false });
  try {
    assert.equal(guard.task('resize', () => 3), 3);
    assert.throws(() => guard.task('', () => 1), { code: 'LOOPGUARD_INVALID_OPTION', option: 'name' });
    assert.throws(() => guard.task('x'.repeat(65), () => 1), { code: 'LOOPGUARD_INVALID_OPTION', option: 'name' });
    assert.throws(() => guard.task('resize', 'not a function'), { code: 'LOOPGUARD_INVALID_OPTION', option: 'fn' });
  } finally {
    guard.close();
  }
});

test('RouteTable.labelForName: task names count against maxRoutes once, beside the templates', () => {
  const table = new RouteTable(3);
  table.stats('/a', 'GET');
  assert.equal(table.labelForName('resize'), 'resize');
  assert.equal(table.labelForName('resize'), 'resize', 'counted once');
  assert.equal(table.size, 2);
  table.stats('/b', 'GET');
  assert.equal(table.labelForName('export'), '(overflow)', 'beyond the cap');
  assert.equal(table.labelFor('/c'), '(overflow)');
  assert.equal(table.labelForName('resize'), 'resize', 'a name already counted keeps its label');
  assert.equal(table.labelForName('(background)'), '(background)', 'sentinels are exempt');
});

function pipeline() {
  const delivered = [];
  const p = new StallPipeline(
    { heartbeatMs: 25 },
    { gcPauses: () => [], chargeStall: () => assert.fail('a task is never charged'), culprit: () => undefined, deliver: (r) => delivered.push(r), samplesUsed: () => undefined },
    { now: () => 0, setTimeout: () => 1, clearTimeout: () => undefined },
  );
  return { p, delivered };
}

const frame = { functionName: 'resize', url: '/app/tasks.mjs', lineNumber: 4, columnNumber: 1 };

test('pipeline: a task caught holding the loop is reported with cause task, its name as the route, no method, every task in flight a victim', () => {
  const { p, delivered } = pipeline();
  p.measured({ window: 3, startedAt: 1000, durationMs: 300, inFlight: 0 }, true);
  const task = { id: 0x40000001, method: '', route: 'tasks.mjs#resize', afterResponse: false, task: true };
  p.samplesArrived(3, [{ window: 3, at: 1050, asyncId: 9, request: task, stack: [frame] }]);
  assert.equal(delivered.length, 1);
  assert.deepEqual([delivered[0].cause, delivered[0].route, delivered[0].method, delivered[0].victims], ['task', 'tasks.mjs#resize', null, 0]);
  assert.deepEqual(delivered[0].stack, [frame]);
});

test('pipeline: a parked pool worker\'s stall with no sample is its only task\'s; with a sample naming no task it stays background', () => {
  const { p, delivered } = pipeline();
  p.measured({ window: 5, startedAt: 1000, durationMs: 280, inFlight: 0, task: 'tasks.mjs#slow' }, false);
  assert.deepEqual([delivered[0].cause, delivered[0].route, delivered[0].stack], ['task', 'tasks.mjs#slow', []]);
  p.measured({ window: 6, startedAt: 2000, durationMs: 280, inFlight: 0, task: 'tasks.mjs#slow' }, true);
  p.samplesArrived(6, [{ window: 6, at: 2050, asyncId: 9, request: null, stack: [frame] }]);
  assert.equal(delivered[1].cause, 'background', 'a probe saw code outside the task: not blamed on it');
});

test('pipeline: flushAwaiting reports a stall still waiting for samples at once, without them', () => {
  const { p, delivered } = pipeline();
  p.measured({ window: 8, startedAt: 1000, durationMs: 200, inFlight: 0, task: 'tasks.mjs#slow' }, true);
  assert.equal(delivered.length, 0);
  p.flushAwaiting();
  assert.deepEqual([delivered.length, delivered[0].route, p.awaitingSamplesCount], [1, 'tasks.mjs#slow', 0]);
});

test('watchPiscinaTasks: a task message read with receiveMessageOnPort begins a named task in its context; its answer ends it; other messages pass untouched', () => {
  const events = [];
  const undo = watchPiscinaTasks({ began: (name) => events.push(['began', name]), ended: (name) => events.push(['ended', name]) });
  const { port1: toWorker, port2: inWorker } = new MessageChannel();
  try {
    toWorker.postMessage({ taskId: 1, task: { secret: 'never a label' }, filename: `${process.cwd()}/tasks/resize.mjs`, name: 'default' });
    toWorker.postMessage({ hello: 'not a task' });
    // Piscina reads through the exports object at each call, as this does.
    const first = workerThreads.receiveMessageOnPort(inWorker);
    assert.equal(first.message.taskId, 1, 'the message passes through unchanged');
    assert.deepEqual(first.message.task, { secret: 'never a label' });
    assert.deepEqual(events, [['began', 'tasks/resize.mjs#default']]);
    assert.equal(requestStore.getStore()?.finalRoute, 'tasks/resize.mjs#default', 'the task runs in its context');
    assert.deepEqual(workerThreads.receiveMessageOnPort(inWorker).message, { hello: 'not a task' });
    assert.equal(events.length, 1);
    // Piscina answers on the port it read the task from.
    inWorker.postMessage({ taskId: 2, result: 0 });
    assert.equal(events.length, 1, 'an answer to a task not seen beginning ends nothing');
    inWorker.postMessage({ taskId: 1, result: 42 });
    assert.deepEqual(events, [['began', 'tasks/resize.mjs#default'], ['ended', 'tasks/resize.mjs#default']]);
    assert.equal(workerThreads.receiveMessageOnPort(toWorker).message.taskId, 2);
    assert.equal(workerThreads.receiveMessageOnPort(toWorker).message.result, 42, 'the answer is posted as given');
    assert.equal(requestStore.getStore()?.finished, true);
  } finally {
    undo();
    requestStore.enterWith(undefined);
    for (const port of [toWorker, inWorker]) port.close();
  }
  assert.equal(workerThreads.receiveMessageOnPort.name, 'receiveMessageOnPort');
  const { port1, port2 } = new MessageChannel();
  port1.postMessage({ taskId: 3, filename: '/x.mjs', name: 'default' });
  workerThreads.receiveMessageOnPort(port2);
  assert.equal(events.length, 2, 'undone: nothing seen any more');
  port1.close();
});
