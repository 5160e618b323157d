import { InvalidOptionError } from '../errors';
import { boolean, finiteNumber, integer, knownKeys, optionalFunction, plainObject } from '../validate';
import type { ShedDecision } from './decision';
import { templateSource } from './route-match';

/** `'culprits'`: shed the routes that block the loop first; `'all'`: shed every non-exempt request at once. */
export type ShedMode = 'culprits' | 'all';

/**
 * Answers a shed request instead of the default 503. Return `false` to let
 * this request through after all (it is then not counted as shed). Called
 * synchronously with the adapter's own request and response objects.
 */
export type OnShed = (req: any, res: any, info: ShedDecision) => boolean | void;

/** Load shedding (`shed` option). Every limit set to 0 is off; at least one must be on. */
export interface ShedOptions {
  /**
   * `'culprits'` sheds only the routes that caused most of the recent blocked
   * time, and everything else only if pressure persists; `'all'` behaves like
   * a plain overload guard and sheds every non-exempt request under pressure.
   * @default 'culprits'
   */
  mode?: ShedMode;
  /**
   * Under pressure when the heartbeat runs this many milliseconds late: the
   * worst lateness in the recent window, so one long stall is not averaged away.
   * @default the guard's `thresholdMs`
   */
  maxEventLoopDelayMs?: number;
  /** Under pressure when event-loop utilization (0..1, per second) exceeds this. @default 0 (off) */
  maxEventLoopUtilization?: number;
  /** Under pressure when the V8 heap in use exceeds this many bytes. @default 0 (off) */
  maxHeapUsedBytes?: number;
  /** The recent window, in ms, over which culprits are ranked by blocked time and delay is reported. @default 10000 */
  windowMs?: number;
  /**
   * Shedding ends once every signal has stayed below 80 % of its limit for this
   * many ms. Doubles (up to 8×) when pressure comes back soon after a release.
   * @default 5000
   */
  cooldownMs?: number;
  /** Culprit mode: shed everything if pressure is still seen this many ms after culprit shedding began. @default 5000 */
  escalateAfterMs?: number;
  /** Most routes shed as culprits at once; beyond that, pressure escalates to shedding everything. @default 3 */
  maxCulprits?: number;
  /** `Retry-After` of a shed response, in seconds. @default 5 */
  retryAfterSeconds?: number;
  /**
   * Paths never shed: route-style templates (`/health`, `/status/:check`) or
   * regular expressions, matched against the request path. A list replaces the default.
   * @default ['/health', '/healthz', '/livez', '/readyz', '/metrics']
   */
  exempt?: readonly (string | RegExp)[];
  /** Custom response for a shed request. @default a 503 JSON body with `Retry-After` */
  onShed?: OnShed;
  /**
   * Experimental. Under pressure with no stall in the window to blame (a loop
   * saturated by many short callbacks), rank culprits by their sampled share
   * of the loop's busy time instead, counting routes whose requests cost at
   * least a tenth of the usual minimum (`thresholdMs / 100` each). Needs
   * `busySampleHz` above 0.
   * @default false
   */
  rankByBusyTime?: boolean;
}

export interface ResolvedShedOptions {
  readonly mode: ShedMode;
  readonly maxEventLoopDelayMs: number;
  readonly maxEventLoopUtilization: number;
  readonly maxHeapUsedBytes: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly escalateAfterMs: number;
  readonly maxCulprits: number;
  readonly retryAfterSeconds: number;
  readonly exempt: readonly (string | RegExp)[];
  readonly onShed: OnShed | undefined;
  readonly rankByBusyTime: boolean;
  /**
   * Derived, not an option: a route is a culprit only if its recent requests
   * blocked the loop this long each on average (a tenth of a stall).
   */
  readonly minCulpritCostMs: number;
}

export const SHED_DEFAULTS = Object.freeze({
  mode: 'culprits' as ShedMode,
  maxEventLoopUtilization: 0,
  maxHeapUsedBytes: 0,
  windowMs: 10_000,
  cooldownMs: 5000,
  escalateAfterMs: 5000,
  maxCulprits: 3,
  retryAfterSeconds: 5,
  exempt: Object.freeze(['/health', '/healthz', '/livez', '/readyz', '/metrics']) as readonly string[],
});

const KNOWN = [
  'mode', 'maxEventLoopDelayMs', 'maxEventLoopUtilization', 'maxHeapUsedBytes', 'windowMs', 'cooldownMs',
  'escalateAfterMs', 'maxCulprits', 'retryAfterSeconds', 'exempt', 'onShed', 'rankByBusyTime',
];

/** Validates the `shed` option; `true` means every default. Throws InvalidOptionError naming `shed.<option>`. */
export function resolveShedOptions(input: unknown, thresholdMs: number): ResolvedShedOptions | false {
  if (input === undefined || input === false) return false;
  const value = input === true ? {} : input;
  const o = plainObject<ShedOptions>('shed', value, 'an object, true or false');
  knownKeys('shed', o, KNOWN);
  const mode = o.mode ?? SHED_DEFAULTS.mode;
  if (mode !== 'culprits' && mode !== 'all') throw new InvalidOptionError('shed.mode', "'culprits' or 'all'", mode);
  const resolved: ResolvedShedOptions = {
    mode,
    maxEventLoopDelayMs: finiteNumber('shed.maxEventLoopDelayMs', o.maxEventLoopDelayMs ?? thresholdMs, 0, 600_000),
    maxEventLoopUtilization: finiteNumber('shed.maxEventLoopUtilization', o.maxEventLoopUtilization ?? SHED_DEFAULTS.maxEventLoopUtilization, 0, 1),
    maxHeapUsedBytes: finiteNumber('shed.maxHeapUsedBytes', o.maxHeapUsedBytes ?? SHED_DEFAULTS.maxHeapUsedBytes, 0, Number.MAX_SAFE_INTEGER),
    windowMs: finiteNumber('shed.windowMs', o.windowMs ?? SHED_DEFAULTS.windowMs, 1000, 3_600_000),
    cooldownMs: finiteNumber('shed.cooldownMs', o.cooldownMs ?? SHED_DEFAULTS.cooldownMs, 0, 3_600_000),
    escalateAfterMs: finiteNumber('shed.escalateAfterMs', o.escalateAfterMs ?? SHED_DEFAULTS.escalateAfterMs, 0, 3_600_000),
    maxCulprits: integer('shed.maxCulprits', o.maxCulprits ?? SHED_DEFAULTS.maxCulprits, 1, 50),
    retryAfterSeconds: integer('shed.retryAfterSeconds', o.retryAfterSeconds ?? SHED_DEFAULTS.retryAfterSeconds, 0, 86_400),
    exempt: exemptList(o.exempt ?? SHED_DEFAULTS.exempt),
    onShed: optionalFunction<OnShed>('shed.onShed', o.onShed),
    rankByBusyTime: boolean('shed.rankByBusyTime', o.rankByBusyTime ?? false),
    minCulpritCostMs: thresholdMs / 10,
  };
  if (resolved.maxEventLoopDelayMs === 0 && resolved.maxEventLoopUtilization === 0 && resolved.maxHeapUsedBytes === 0) {
    throw new InvalidOptionError(
      'shed',
      'at least one limit above 0 (maxEventLoopDelayMs, maxEventLoopUtilization, maxHeapUsedBytes)',
      'every limit off',
    );
  }
  return Object.freeze(resolved);
}

function exemptList(value: unknown): readonly (string | RegExp)[] {
  const valid = Array.isArray(value) && value.every((e) => (typeof e === 'string' && templateSource(e) !== null) || e instanceof RegExp);
  if (!valid) throw new InvalidOptionError('shed.exempt', 'an array of path templates starting with "/" (like "/health" or "/status/:check") or RegExps', value);
  return Object.freeze([...(value as (string | RegExp)[])]);
}
