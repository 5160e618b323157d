/**
 * What a shed request is told and counted as. Decisions are built when the
 * shedding state changes and shared by every request they apply to, so the
 * request path never allocates one.
 */

/** Why a request was shed: it matched a culprit route, or the loop is under this kind of pressure. */
export type ShedReason = 'culprit' | PressureReason;

/** The signal that put the loop under pressure. */
export type PressureReason = 'delay' | 'utilization' | 'heap';

/** `off`: no pressure; `pressure`: under pressure, nothing shed yet (no culprit known); `culprits`: shedding culprit routes; `all`: shedding every non-exempt request. */
export type ShedState = 'off' | 'pressure' | 'culprits' | 'all';

export interface ShedDecision {
  /** The `route` label: the culprit template the request matched, or `(unmatched)`. Never the raw path. */
  readonly route: string;
  readonly reason: ShedReason;
  readonly retryAfterSeconds: number;
}

/** Emitted as the guard's `'shed'` event whenever the shedding state changes. */
export interface ShedChange {
  readonly state: ShedState;
  readonly previous: ShedState;
  /** The signal behind the current pressure; null once it is off. */
  readonly reason: PressureReason | null;
  /** Culprit routes shed (culprit mode), largest share of blocked time first. */
  readonly culprits: readonly { route: string; method: string }[];
  /** Epoch ms. */
  readonly at: number;
}

export function decision(route: string, reason: ShedReason, retryAfterSeconds: number): ShedDecision {
  return Object.freeze({ route, reason, retryAfterSeconds });
}
