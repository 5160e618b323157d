import { LoopGuardError } from '../errors';

/** Distinct problems remembered; past this, a new one is still reported but not remembered. */
const REMEMBERED_PROBLEMS = 100;

/**
 * Runtime problems (a failing collector, a listener that throws, a watchdog
 * restart) are reported once per distinct code and message, through the
 * user's `onError`, else the `logger`'s `error`, else `process.emitWarning`: a problem on the request path or
 * in a timer would otherwise repeat thousands of times a second. Never throws.
 */
export class ErrorReporter {
  private readonly seen = new Set<string>();

  constructor(
    private readonly onError: ((error: Error) => void) | undefined,
    private readonly logger?: { error(obj: object, msg?: string): void },
  ) {}

  report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const code = (error as { code?: string }).code;
    const key = `${code ?? ''}:${error.message}`;
    if (this.seen.has(key)) return;
    if (this.seen.size < REMEMBERED_PROBLEMS) this.seen.add(key);
    try {
      if (this.onError) this.onError(error);
      else if (this.logger) this.logger.error({ err: error, code: code ?? 'LOOPGUARD_ERROR' }, `loopguard: ${error.message}`);
      else process.emitWarning(error.message, { code: code ?? 'LOOPGUARD_ERROR' });
    } catch {
      // An onError that throws has nowhere left to report to.
    }
  }
}

/** A user callback (onStall, an event listener) threw: the coded error that says which. */
export function callbackFailed(what: string, err: unknown): LoopGuardError {
  return new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `${what} threw: ${(err as Error)?.message ?? err}`, { cause: err });
}
