/**
 * Expected blocking: code declared as expected to hold the loop (an admin
 * export, a migration at start). Its stalls are still measured and reported,
 * with `cause: 'expected'`, and never alerted on or shed.
 *
 * `expectBlocking(fn)` marks fn's synchronous run and everything it awaits
 * with an AsyncLocalStorage store the watchdog's probe reads at a pause. One
 * store for the process (on a well-known symbol, like the probe), created on
 * first use: a service that never declares anything pays nothing for it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { kExpected } from '../contract/symbols';

const STORE_KEY = kExpected;
type Global = Record<symbol, AsyncLocalStorage<true> | undefined>;

export function runExpected<T>(fn: () => T): T {
  const global = globalThis as unknown as Global;
  const store = (global[STORE_KEY] ??= new AsyncLocalStorage<true>());
  return store.run(true, fn);
}

/** Read by the probe while the main thread is paused. */
export function inExpectedCode(): boolean {
  return (globalThis as unknown as Global)[STORE_KEY]?.getStore() === true;
}

/** Route templates (exact) and patterns whose stalls are expected, as one test. */
export function expectedRouteTest(routes: readonly (string | RegExp)[]): ((route: string) => boolean) | undefined {
  if (routes.length === 0) return undefined;
  const exact = new Set(routes.filter((r): r is string => typeof r === 'string'));
  const patterns = routes.filter((r): r is RegExp => r instanceof RegExp);
  return (route) => exact.has(route) || patterns.some((p) => p.test(route));
}
