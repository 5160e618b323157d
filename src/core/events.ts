import type { StallReport } from './stall-report';

/**
 * The guard's events. Collectors that emit events of their own add them by
 * declaration merging, next to the code that emits them:
 *
 *   declare module '../core/events' {
 *     interface LoopGuardEvents { shed: [change: ShedChange] }
 *   }
 */
export interface LoopGuardEvents {
  stall: [report: StallReport];
  /** Diagnostics: the watchdog worker is watching (after start or a restart). */
  'watchdog:ready': [];
}
