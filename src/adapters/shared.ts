/**
 * What adapters share besides the per-request entry point (./entry.ts):
 * resolving an options object or an existing guard to a guard.
 */
import { createLoopGuard, LoopGuard } from '../create-guard';
import type { LoopGuardOptions } from '../options';

export { entryOf, kRecord, type RequestEntry, type TrackedResponse } from './entry';

/** Resolves an options object or an existing guard to a guard. */
export function guardFrom(optionsOrGuard?: LoopGuardOptions | LoopGuard): LoopGuard {
  return optionsOrGuard instanceof LoopGuard ? optionsOrGuard : createLoopGuard(optionsOrGuard);
}
