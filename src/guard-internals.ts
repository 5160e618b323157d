/**
 * A guard's private parts for tests and benchmarks, by the names they have
 * always used (reached through src/internal.ts only).
 */
import { guardParts, type LoopGuard } from './create-guard';
import type { GuardParts } from './compose';
import type { Kernel } from './core/kernel';

export interface GuardInternals extends Omit<GuardParts, 'model' | 'context' | 'snapshot'> {
  readonly routes: Kernel['routes'];
  readonly tracker: Kernel['tracker'];
  readonly shared: Kernel['shared'];
  /** The watchdog's main-thread side, once started (fault-injection tests stop its worker). */
  readonly watchdog: Kernel['watchdog'];
  /** What the heartbeat calls each beat: late by `lateMs`, ending `endedWindow`, at epoch `nowEpochMs`. */
  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void;
}

export function guardInternals(guard: LoopGuard): GuardInternals {
  const parts = guardParts(guard);
  const { kernel } = parts;
  return {
    ...parts,
    routes: kernel.routes,
    tracker: kernel.tracker,
    shared: kernel.shared,
    watchdog: kernel.watchdog,
    onBeat: (lateMs, endedWindow, nowEpochMs) => kernel.onBeat(lateMs, endedWindow, nowEpochMs),
  };
}
