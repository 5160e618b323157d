/**
 * The loop budget's settings, checked once: from LOOPGUARD_BUDGET_* variables
 * (src/env-options.ts) or from withinLoopBudget's arguments.
 */
import { InvalidOptionError } from '../errors';

export interface BudgetConfig {
  /** The most own synchronous time one request may take on the loop, ms. */
  readonly budgetMs: number;
  /** Requests per route (method + template) not judged: the first one compiles the route's code. */
  readonly warmupRequests: number;
  /** Requests finishing this soon (ms) after the budget starts are not judged either. */
  readonly startupGraceMs: number;
}

export const BUDGET_DEFAULTS = Object.freeze({ warmupRequests: 1, startupGraceMs: 0 });

export function resolveBudget(
  input: { budgetMs: unknown; warmupRequests?: unknown; startupGraceMs?: unknown },
  names: { budgetMs: string; warmupRequests: string; startupGraceMs: string },
): BudgetConfig {
  const { budgetMs, warmupRequests = BUDGET_DEFAULTS.warmupRequests, startupGraceMs = BUDGET_DEFAULTS.startupGraceMs } = input;
  if (typeof budgetMs !== 'number' || !Number.isFinite(budgetMs) || budgetMs <= 0 || budgetMs > 600_000) {
    throw new InvalidOptionError(names.budgetMs, 'a number of milliseconds above 0 (at most 600000)', budgetMs);
  }
  if (typeof warmupRequests !== 'number' || !Number.isInteger(warmupRequests) || warmupRequests < 0 || warmupRequests > 1_000_000) {
    throw new InvalidOptionError(names.warmupRequests, 'an integer from 0 to 1000000 (requests per route not judged)', warmupRequests);
  }
  if (typeof startupGraceMs !== 'number' || !Number.isFinite(startupGraceMs) || startupGraceMs < 0 || startupGraceMs > 3_600_000) {
    throw new InvalidOptionError(names.startupGraceMs, 'a number of milliseconds from 0 to 3600000', startupGraceMs);
  }
  return Object.freeze({ budgetMs, warmupRequests, startupGraceMs });
}

/**
 * A budget judges each request's own time and captures the blocking stack;
 * busy-time shares and the thread pool's delay are production telemetry that
 * no test run reads. Off, the watchdog thread has nothing else to do.
 */
export const TEST_RUN_QUIET = { busySampleHz: 0, threadPoolProbe: false } as const;

/** The loop budget of a test run, and the directory its processes report to (unset in the first one). */
export interface BudgetRunConfig extends BudgetConfig {
  readonly runDir: string | undefined;
}
