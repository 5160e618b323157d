// ChannelStarter, the per-request path of requests opened from node:http's
// start channel, on fakes: a guard that hands out records, plain emitters for
// the response and the socket. What it opens, enters and finishes, and what it
// leaves alone (a tracked response, a closed guard, an ignored request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ChannelStarter, kRecord, requestStore } from '../../dist/internal.js';

function fakeGuard({ beginThrows } = {}) {
  const guard = {
    isClosed: false,
    begun: [],
    finished: [],
    errors: [],
    beginRequest(req, method, routeOf) {
      if (beginThrows) throw beginThrows;
      const record = { id: guard.begun.length + 1, method, routeOf, finished: false, owner: { finish: (r) => ((r.finished = true), guard.finished.push(r.id)) } };
      guard.begun.push(record);
      return record;
    },
    reportError: (err) => guard.errors.push(err),
  };
  return guard;
}

function starter({ guard = fakeGuard(), ignore, routeOf = () => '/r' } = {}) {
  return { guard, s: new ChannelStarter({ guard, ignore, precise: false }, routeOf) };
}

/** A request without a body (no emit hook needed), its response and socket as emitters. */
function exchange(socket = new EventEmitter(), method = 'GET') {
  const req = Object.assign(new EventEmitter(), { method, rawHeaders: ['Host', 'x'] });
  const res = Object.assign(new EventEmitter(), { req });
  return { req, res, socket };
}

/** Runs `fn` with `store` current; returns the store current after it. */
function storeAfter(store, fn) {
  return requestStore.run(store, () => {
    fn();
    return requestStore.getStore();
  });
}

test('opens the record with the method and route resolver, keeps it on the response, and enters it', () => {
  const routeOf = () => '/users/:id';
  const { guard, s } = starter({ routeOf });
  const { req, res, socket } = exchange(undefined, 'POST');
  const current = storeAfter(undefined, () => s.start(req, res, socket));
  assert.equal(guard.begun.length, 1);
  const [record] = guard.begun;
  assert.equal(record.method, 'POST');
  assert.equal(record.routeOf, routeOf);
  assert.equal(res[kRecord], record);
  assert.equal(current, record, 'the rest of the callback runs in the request\'s context');
});

test('a client that goes away finishes the record through the socket, once', () => {
  const { guard, s } = starter();
  const { req, res, socket } = exchange();
  s.start(req, res, socket);
  assert.equal(socket.listenerCount('close'), 1);
  socket.emit('close');
  socket.emit('close');
  assert.deepEqual(guard.finished, [1]);
});

test('keep-alive: one socket listener for all its requests, following the latest', () => {
  const { guard, s } = starter();
  const socket = new EventEmitter();
  const first = exchange(socket);
  s.start(first.req, first.res, socket);
  guard.begun[0].finished = true; // answered: the finish channel did it
  const second = exchange(socket);
  s.start(second.req, second.res, socket);
  assert.equal(socket.listenerCount('close'), 1, 'not one listener per request');
  socket.emit('close');
  assert.deepEqual(guard.finished, [2]);
});

test('pipelined: a second request while the first is in flight gets a listener of its own', () => {
  const { guard, s } = starter();
  const socket = new EventEmitter();
  const first = exchange(socket);
  const second = exchange(socket);
  s.start(first.req, first.res, socket);
  s.start(second.req, second.res, socket);
  assert.equal(socket.listenerCount('close'), 1, 'the socket\'s listener stays with the first');
  socket.emit('close');
  assert.deepEqual(guard.finished, [1]);
  second.req.emit('close');
  assert.deepEqual(guard.finished, [1, 2], 'the queued response finishes with its request');
});

test('a response tracked already (another adapter, another copy) is left alone', () => {
  const { guard, s } = starter();
  const { req, res, socket } = exchange();
  const theirs = { id: 'theirs' };
  res[kRecord] = theirs;
  s.start(req, res, socket);
  assert.equal(guard.begun.length, 0);
  assert.equal(res[kRecord], theirs);
  assert.equal(socket.listenerCount('close'), 0);
});

test('a closed guard opens nothing', () => {
  const { guard, s } = starter();
  guard.isClosed = true;
  assert.equal(s.closed, true);
  const { req, res, socket } = exchange();
  s.start(req, res, socket);
  assert.equal(guard.begun.length, 0);
  assert.equal(res[kRecord], undefined);
});

test('an ignored request runs in no request\'s context, not the previous one\'s on its socket', () => {
  const seen = [];
  const { guard, s } = starter({ ignore: (req) => (seen.push(req), true) });
  const { req, res, socket } = exchange();
  const previous = { id: 'previous request on this keep-alive socket' };
  const current = storeAfter(previous, () => s.start(req, res, socket));
  assert.deepEqual(seen, [req]);
  assert.equal(guard.begun.length, 0);
  assert.equal(current, undefined);
});

test('a failure to open is reported and the request goes on untracked', () => {
  const boom = new Error('route table broke');
  const { guard, s } = starter({ guard: fakeGuard({ beginThrows: boom }) });
  const { req, res, socket } = exchange();
  assert.doesNotThrow(() => s.start(req, res, socket));
  assert.deepEqual(guard.errors, [boom]);
  assert.equal(res[kRecord], undefined);
});
