/**
 * Coded errors. Construction-time problems throw; runtime problems are
 * reported through `onError` and never thrown into the host application.
 */

export type LoopGuardErrorCode =
  | 'LOOPGUARD_INVALID_OPTION'
  | 'LOOPGUARD_MISSING_PEER'
  | 'LOOPGUARD_ALREADY_REGISTERED'
  | 'LOOPGUARD_CALLBACK_FAILED'
  | 'LOOPGUARD_EXPORT_FAILED'
  | 'LOOPGUARD_WATCHDOG_FAILED'
  | 'LOOPGUARD_POOL_WATCHED'
  | 'LOOPGUARD_TOO_MANY_POOLS'
  | 'LOOPGUARD_THREAD_TIME_UNAVAILABLE';

export class LoopGuardError extends Error {
  readonly code: LoopGuardErrorCode;

  constructor(code: LoopGuardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LoopGuardError';
    this.code = code;
  }
}

/** A bad option: a `TypeError` (so `instanceof TypeError` works) with a stable code. */
export class InvalidOptionError extends TypeError {
  readonly code = 'LOOPGUARD_INVALID_OPTION' as const;
  readonly option: string;

  constructor(option: string, expected: string, received: unknown) {
    super(`loopguard: option "${option}" must be ${expected}, received ${describe(received)}`);
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
