import type { StallReport } from '../core/stall-report';
import type { GuardObserver } from '../core/observers';
import { callbackFailed } from '../core/report-errors';
import { culpritFingerprint, ReportLimit } from './report-limit';

export interface StallDeliveryOptions {
  readonly onStall: ((report: StallReport) => void) | undefined;
  readonly logger: { warn(obj: object, msg?: string): void } | undefined;
  readonly reportsPerCulpritPerMinute: number;
}

/**
 * The last step of a stall: the user's `onStall`, the logger's warning and
 * the guard's `'stall'` event, at most `reportsPerCulpritPerMinute` a minute
 * for one culprit (a held-back report is counted on the next one delivered,
 * as `suppressed`). Attached after the stall stats, so that a listener
 * reading `snapshot()` already sees its stall; metrics count every stall.
 */
export function stallDelivery(
  options: StallDeliveryOptions,
  emit: (report: StallReport) => void,
  reportError: (err: unknown) => void,
): GuardObserver {
  const limit = new ReportLimit(options.reportsPerCulpritPerMinute);
  const { onStall, logger } = options;
  return {
    stall(report) {
      const held = limit.admit(culpritFingerprint(report), report.startedAt);
      if (held < 0) return;
      const delivered: StallReport = held > 0 ? { ...report, suppressed: held } : report;
      if (onStall) {
        try {
          onStall(delivered);
        } catch (err) {
          reportError(callbackFailed('onStall', err));
        }
      }
      if (logger) {
        try {
          logger.warn({ loopguard: delivered }, `event loop stalled ${Math.round(delivered.durationMs)} ms${culpritNote(delivered)}${threadNote(delivered)}${stateNote(delivered)}`);
        } catch (err) {
          reportError(callbackFailed('logger.warn', err));
        }
      }
      emit(delivered);
    },
  };
}

/** Who held the loop, for the log line: " in GET /users/:id", " in task resize.mjs#default", " (background)". */
function culpritNote(report: StallReport): string {
  if (report.route === null) return ` (${report.cause})`;
  return report.method === null ? ` in task ${report.route}` : ` in ${report.method} ${report.route}`;
}

/** Which loop stalled, for the log line: only a worker's is named, the main thread's is the usual case. */
function threadNote(report: StallReport): string {
  return report.thread !== undefined && report.thread !== 'main' ? ` on thread ${report.thread}` : '';
}

/** What the thread was doing, for the log line: ", computing", ", not run by the host (throttled 420 ms)". */
function stateNote(report: StallReport): string {
  switch (report.state) {
    case 'cpu':
      return ', computing';
    case 'parked':
      return ', parked in a blocking call';
    case 'gc':
      return report.cause === 'gc' ? '' : ', mostly garbage collection';
    case 'host': {
      const throttled = report.threadTime.throttledMs;
      const interrupted = report.interrupted?.route ? ` while in ${report.interrupted.method} ${report.interrupted.route}` : '';
      return `, not run by the host${throttled ? ` (throttled ${Math.round(throttled)} ms)` : ''}${interrupted}`;
    }
    default:
      return '';
  }
}
