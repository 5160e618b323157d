/**
 * `withinLoopBudget(ms, fn)`: an assertion, for any test runner, that no
 * request served while `fn` ran took more than `ms` of the event loop's own
 * time. It needs nothing mounted in the app: every node:http server request
 * in the process is seen (see host.ts).
 */
import { AssertionError } from 'node:assert';
import { once } from 'node:events';
import { resolveBudget } from './budget-config';
import { createHost, findHost } from './host';
import { formatBudget } from './table';

export interface WithinLoopBudgetOptions {
  /**
   * Requests per route (method + template) inside `fn` that are not judged.
   * The first request of a route in a process also compiles its code; warm the
   * route up before, or set 1 here.
   * @default 0
   */
  warmupRequests?: number;
}

/** How long the first call waits for the watchdog, which captures the blocking stacks. */
const READY_TIMEOUT_MS = 5000;

/**
 * Runs `fn`, then resolves with its result, or rejects with an AssertionError
 * listing each route whose requests took more than `budgetMs` of the loop's
 * own synchronous time: worst and total time, how many requests, the blocking
 * function `name (file:line)`. If `fn` throws, its error is thrown as is.
 */
export async function withinLoopBudget<T>(budgetMs: number, fn: () => T | PromiseLike<T>, options: WithinLoopBudgetOptions = {}): Promise<T> {
  const config = resolveBudget(
    { budgetMs, warmupRequests: options.warmupRequests ?? 0 },
    { budgetMs: 'budgetMs', warmupRequests: 'warmupRequests', startupGraceMs: 'startupGraceMs' },
  );
  if (typeof fn !== 'function') throw new TypeError(`withinLoopBudget: fn must be a function, received ${typeof fn}`);
  const host = findHost() ?? createHost(config.budgetMs);
  const { collector } = host;
  const guard = collector.guard;
  if (guard.options.captureStacks && !guard.watchdogReady) {
    const timeout = AbortSignal.timeout(READY_TIMEOUT_MS);
    // Without the watchdog the budget still holds, only without the blocking function's name.
    await once(guard, 'watchdog:ready', { signal: timeout }).catch(() => undefined);
  }
  const scope = collector.openScope(config.budgetMs, config.warmupRequests);
  let result: T;
  try {
    result = await fn();
    await collector.settled();
  } finally {
    collector.closeScope(scope);
  }
  const summary = scope.summary();
  if (summary.rows.length === 0) return result;
  throw new AssertionError({
    message: formatBudget(summary, process.cwd(), 'withinLoopBudget'),
    actual: Math.max(...summary.rows.map((r) => r.worstMs)),
    expected: config.budgetMs,
    operator: 'withinLoopBudget',
  });
}
