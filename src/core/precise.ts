import { createHook, type AsyncHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { requestStore, type RequestRecord } from './request-context';

/**
 * Precise mode: times every async callback (async_hooks before/after) and
 * charges it to the request whose context it runs in. Gives each request its
 * own synchronous time, including blocking far under the stall threshold.
 * Only the outermost callback is timed, so nested hooks are not counted twice.
 * One hook serves every guard in precise mode.
 */
let hook: AsyncHook | undefined;
let users = 0;
let depth = 0;
let startedAt = 0;
let current: RequestRecord | undefined;
/** Time this thread spent waiting for a CPU so far, ms; set only by the test-time loop budget. */
let waitClock: (() => number) | undefined;
let waitedAtStart = 0;

/**
 * Own time is wall time on the loop. On a loaded machine (a CI runner) the
 * kernel also takes the CPU away in the middle of a callback; the loop budget
 * takes that time off with a clock of the thread's run-queue wait, read twice
 * per request callback (≈ 2 µs each: test runs only).
 */
export function excludeRunQueueWait(clock: (() => number) | undefined): void {
  waitClock = clock;
}

function elapsedSinceStart(now: number): number {
  if (waitClock === undefined) return now - startedAt;
  const own = now - startedAt - (waitClock() - waitedAtStart);
  return own > 0 ? own : 0;
}

function start(now: number): void {
  startedAt = now;
  if (waitClock !== undefined) waitedAtStart = waitClock();
}

function before(): void {
  if (depth++ !== 0) return;
  current = requestStore.getStore();
  if (current !== undefined) start(performance.now());
}

function after(): void {
  if (--depth !== 0) {
    if (depth < 0) depth = 0;
    return;
  }
  if (current !== undefined) {
    current.blockingMs += elapsedSinceStart(performance.now());
    current = undefined;
  }
}

/**
 * An adapter entered a request's context in the middle of a callback
 * (`enterWith`, where a framework gives no `next` to wrap): the rest of this
 * callback is the request's time. Time already running for another record
 * (a finished request whose store the callback inherited) is charged first.
 */
export function preciseEnter(record: RequestRecord): void {
  if (hook === undefined || depth === 0 || current === record) return;
  const now = performance.now();
  if (current !== undefined) current.blockingMs += elapsedSinceStart(now);
  current = record;
  start(now);
}

export function enablePrecise(): () => void {
  if (users++ === 0) {
    hook = createHook({ before, after });
    hook.enable();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0) {
      hook?.disable();
      hook = undefined;
      depth = 0;
      current = undefined;
    }
  };
}
