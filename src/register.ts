/**
 * Zero-code start: `node --import loopguard/register app.js` (ESM) or
 * `node --require loopguard/register app.js` (CommonJS), options from
 * `LOOPGUARD_*` environment variables (src/env-options.ts).
 *
 * Every node:http / https server request is tracked from a diagnostics
 * channel (src/register/http-servers.ts); no module hooks are needed for
 * that; routes are resolved per framework (src/routes/zero-code.ts).
 * With LOOPGUARD_BUDGET_MS the run is also a test run with a loop budget
 * (src/budget/run.ts).
 *
 * Worker threads inherit `--require`/`--import`: in a worker the zero-code
 * start watches that thread (`watchThisThread()`; the main thread's guard
 * exports its series), and in loopguard's own watchdog thread it does nothing.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { isWatchdogThread } from './contract/messages';
import { watchThisThread } from './thread-guard';
import { createLoopGuard, type LoopGuard } from './create-guard';
import type { LoopGuardOptions } from './options';
import { logLine, optionsFromEnv } from './env-options';
import { linkFastify, linkKoa } from './routes/zero-code';
import { watchHttpServers } from './register/http-servers';
import { isTestRunnerProcess, startBudgetRun } from './budget/run';
import { kRegistered } from './contract/symbols';


function start(): LoopGuard | undefined {
  const registry = globalThis as { [kRegistered]?: LoopGuard | null };
  // Loaded twice (--require and --import, or two copies): the first one serves.
  if (registry[kRegistered] !== undefined || isWatchdogThread(workerData)) return registry[kRegistered] ?? undefined;
  // A bad variable never stops the app: it is named in one warning and its option keeps its default.
  const { enabled, options, log, budget, warnings } = optionsFromEnv(process.env);
  if (!isMainThread) return startInWorker(enabled, options, registry);
  for (const warning of warnings) process.emitWarning(warning, { code: 'LOOPGUARD_ENV' });
  if (!enabled || (budget !== undefined && isTestRunnerProcess())) {
    // node --test's runner with a budget: it judges the run its file processes report, and tracks nothing itself.
    if (enabled && budget !== undefined) startBudgetRun(undefined, budget);
    registry[kRegistered] = null;
    return undefined;
  }
  const guard = createLoopGuard(options);
  registry[kRegistered] = guard;
  if (log) {
    // Says the zero-code start is active, and from when stacks can be captured.
    const watching = (): void => logLine('watching', { pid: process.pid, thresholdMs: guard.options.thresholdMs, captureStacks: guard.options.captureStacks });
    if (guard.options.captureStacks) guard.once('watchdog:ready', watching);
    else watching();
  }
  const report = (err: unknown): void => guard.reportError(err);
  watchHttpServers(guard);
  if (budget !== undefined) startBudgetRun(guard, budget);
  linkFastify(report);
  linkKoa();
  return guard;
}

/**
 * In a worker thread: watch it, and track its node:http servers as on the
 * main thread (the warnings and the log line are the main thread's).
 */
function startInWorker(enabled: boolean, options: LoopGuardOptions, registry: { [kRegistered]?: LoopGuard | null }): LoopGuard | undefined {
  if (!enabled) {
    registry[kRegistered] = null;
    return undefined;
  }
  // The main thread exports, serves and logs every thread's stalls: a worker's own guard does none of it.
  const { prometheus: _p, otel: _o, metricsServer: _m, onStall: _s, ...own } = options;
  const guard = watchThisThread(own);
  registry[kRegistered] = guard ?? null;
  if (guard === undefined) return undefined;
  const report = (err: unknown): void => guard.reportError(err);
  watchHttpServers(guard);
  linkFastify(report);
  linkKoa();
  return guard;
}

/** The guard the zero-code start created (undefined off the main thread or with LOOPGUARD_ENABLED=false). */
export const guard: LoopGuard | undefined = start();
