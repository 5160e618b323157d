/**
 * `withinLoopBudget(ms, fn)`: an assertion, for any test runner, that no
 * request served while `fn` ran took more than `ms` of the event loop's own
 * time. It needs nothing mounted in the app: every node:http server request
 * in the process is seen (see host.ts).
 */
import { AssertionError } from 'node:assert';
import { EventEmitter, once } from 'node:events';
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

type Within = typeof withinLoopBudget;
type ModuleClass = { createRequire(path: string): (id: string) => unknown };
interface MainProcess {
  getBuiltinModule?(id: string): ModuleClass | undefined;
  mainModule?: { constructor: ModuleClass };
}
let mainRealm: Within | null | undefined;

/**
 * Jest loads every test file in a realm of its own, with its own copy of
 * loopguard. The watchdog's probe runs in the main realm, so the watching is
 * done by a copy loaded there (through the main realm's own loader), and a
 * realm's copy hands its calls to it.
 */
function mainRealmCopy(): Within | null {
  if (mainRealm !== undefined) return mainRealm;
  mainRealm = null;
  // A core module's function belongs to the main realm; its Function constructor evaluates there.
  const mainGlobal = (EventEmitter.constructor as FunctionConstructor)('return globalThis')() as unknown;
  if (mainGlobal === globalThis) return mainRealm;
  try {
    // Not this realm's `node:module`: Jest hands test code a createRequire of its own.
    const mainProcess = (mainGlobal as { process?: MainProcess }).process;
    const RealModule = mainProcess?.getBuiltinModule?.('node:module') ?? mainProcess?.mainModule?.constructor;
    if (RealModule === undefined) return mainRealm;
    const copy = (RealModule.createRequire(__filename)(__filename) as { withinLoopBudget: Within }).withinLoopBudget;
    if (typeof copy === 'function' && copy !== withinLoopBudget) mainRealm = copy;
  } catch {
    // No loader to reach the main realm: watch from here (captures may then lack the function).
  }
  return mainRealm;
}

/**
 * Runs `fn`, then resolves with its result, or rejects with an AssertionError
 * listing each route whose requests took more than `budgetMs` of the loop's
 * own synchronous time: worst and total time, how many requests, the blocking
 * function `name (file:line)`. If `fn` throws, its error is thrown as is.
 */
export async function withinLoopBudget<T>(budgetMs: number, fn: () => T | PromiseLike<T>, options: WithinLoopBudgetOptions = {}): Promise<T> {
  const main = mainRealmCopy();
  if (main !== null) return main(budgetMs, fn, options);
  const config = resolveBudget(
    { budgetMs, warmupRequests: options.warmupRequests ?? 0 },
    { budgetMs: 'budgetMs', warmupRequests: 'warmupRequests', startupGraceMs: 'startupGraceMs' },
  );
  if (typeof fn !== 'function') throw new TypeError(`withinLoopBudget: fn must be a function, received ${typeof fn}`);
  const host = findHost() ?? createHost(config.budgetMs);
  const { recorder } = host;
  const guard = recorder.guard;
  if (guard.options.captureStacks && !guard.watchdogReady) {
    const timeout = AbortSignal.timeout(READY_TIMEOUT_MS);
    // Without the watchdog the budget still holds, only without the blocking function's name.
    await once(guard, 'watchdog:ready', { signal: timeout }).catch(() => undefined);
  }
  const scope = recorder.openScope(config.budgetMs, config.warmupRequests);
  let result: T;
  let unseen = 0;
  try {
    result = await fn();
    await recorder.settled();
  } finally {
    unseen = recorder.closeScope(scope);
  }
  if (unseen > 0) {
    throw new AssertionError({
      message:
        `withinLoopBudget: ${unseen} response${unseen === 1 ? ' was' : 's were'} served while fn ran by a loopguard guard of the app's own ` +
        "(it mounts loopguard's middleware), whose requests cannot be timed here: load loopguard/register before the app " +
        '(node --import loopguard/register, or NODE_OPTIONS) so that one guard sees every request',
      operator: 'withinLoopBudget',
    });
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
