import type { PressureReason, ShedState } from './decision';
import type { ShedMode } from './options';

/**
 * The shedding state machine: pure, driven by readings with explicit times,
 * so every transition is tested without timers.
 *
 *   off ──pressure──▶ culprits (culprit known) | pressure (none known yet) | all (mode 'all')
 *   pressure ──culprit known──▶ culprits
 *   pressure, culprits ──still over the limit escalateAfterMs later──▶ all
 *   any ──every signal under the recovery level for cooldownMs──▶ off
 *
 * Two levels make the hysteresis: entering needs a signal over its limit,
 * leaving needs every signal under RECOVER_RATIO of it for a whole cooldown.
 * Shedding the culprit removes the very signal that started it, so a released
 * culprit can bring pressure straight back; each re-entry soon after a release
 * doubles the cooldown (up to MAX_COOLDOWN_FACTOR×) so the cycle slows down
 * instead of flapping at the cooldown's pace.
 */

/** A signal must fall under this fraction of its limit to count as calm. */
export const RECOVER_RATIO = 0.8;
export const MAX_COOLDOWN_FACTOR = 8;

export interface PressureReading {
  /** The signal over its limit in this reading (fresh evidence), or null. */
  readonly over: PressureReason | null;
  /** Some signal above its recovery level in this reading. */
  readonly hot: boolean;
}

export interface MachineConfig {
  readonly mode: ShedMode;
  readonly cooldownMs: number;
  readonly escalateAfterMs: number;
}

export class PressureMachine {
  state: ShedState = 'off';
  /** The signal behind the current pressure. */
  reason: PressureReason | null = null;
  /** When the current state was entered. */
  since = 0;
  /** The cooldown in force: the configured one, or longer after quick re-entries. */
  cooldownMs: number;
  private lastHotAt = -Infinity;
  private lastExitAt = -Infinity;
  /** Escalation is measured from here: pressure starting, or the culprit set last growing. */
  private escalationFrom = 0;

  constructor(private readonly config: MachineConfig) {
    this.cooldownMs = config.cooldownMs;
  }

  /**
   * One reading. `culprits` is how many culprit routes are known now;
   * `culpritAdded` says the set grew since the previous reading.
   * Returns true when the state changed.
   */
  step(now: number, reading: PressureReading, culprits: number, culpritAdded: boolean): boolean {
    if (reading.hot || reading.over !== null) this.lastHotAt = now;
    if (this.state === 'off') {
      if (reading.over === null) return false;
      const quickReturn = now - this.lastExitAt < this.cooldownMs;
      this.cooldownMs = quickReturn ? Math.min(this.cooldownMs * 2, this.config.cooldownMs * MAX_COOLDOWN_FACTOR) : this.config.cooldownMs;
      this.reason = reading.over;
      this.escalationFrom = now;
      return this.enter(now, this.config.mode === 'all' ? 'all' : culprits > 0 ? 'culprits' : 'pressure');
    }
    if (now - this.lastHotAt >= this.cooldownMs) {
      this.lastExitAt = now;
      this.reason = null;
      return this.enter(now, 'off');
    }
    let changed = false;
    if (this.state === 'pressure' && culprits > 0) {
      this.escalationFrom = now;
      changed = this.enter(now, 'culprits');
    } else if (this.state === 'culprits' && culpritAdded) {
      // A new culprit gets its own chance before everything is shed.
      this.escalationFrom = now;
    }
    if (reading.over !== null && this.state !== 'all' && now - this.escalationFrom >= this.config.escalateAfterMs) {
      this.reason = reading.over;
      changed = this.enter(now, 'all');
    }
    return changed;
  }

  /** Back to off at once (guard closing). */
  reset(now: number): boolean {
    this.reason = null;
    return this.enter(now, 'off');
  }

  private enter(now: number, state: ShedState): boolean {
    if (state === this.state) return false;
    this.state = state;
    this.since = now;
    return true;
  }
}
