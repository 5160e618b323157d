/**
 * At most `perMinute` reports a minute for one culprit fingerprint. Block
 * events from a few routine recurring blockers otherwise become most of a
 * service's event volume; metrics still count every stall. Pure: the caller
 * passes the time.
 */
import type { StallReport } from '../core/stall-report';

/** Fingerprints remembered; past this the oldest window is forgotten (its culprit starts afresh). */
const MAX_FINGERPRINTS = 1000;
const MINUTE_MS = 60_000;

interface Window {
  startedAt: number;
  delivered: number;
  suppressed: number;
}

export class ReportLimit {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly perMinute: number) {}

  /**
   * Whether this report may be delivered: -1 when it is held back, else how
   * many of the same culprit were held back since the last one delivered.
   */
  admit(fingerprint: string, now: number): number {
    if (this.perMinute === 0) return 0;
    let window = this.windows.get(fingerprint);
    if (window === undefined) {
      if (this.windows.size >= MAX_FINGERPRINTS) this.windows.delete(this.windows.keys().next().value!);
      window = { startedAt: now, delivered: 0, suppressed: 0 };
      this.windows.set(fingerprint, window);
    } else if (now - window.startedAt >= MINUTE_MS) {
      window.startedAt = now;
      window.delivered = 0;
    }
    if (window.delivered >= this.perMinute) {
      window.suppressed++;
      return -1;
    }
    window.delivered++;
    const held = window.suppressed;
    window.suppressed = 0;
    return held;
  }
}

/** One culprit: its cause, method and route, and the top frame of its own code (not Node's, not a dependency's). */
export function culpritFingerprint(report: StallReport): string {
  const frame = report.stack.find((f) => f.url !== '' && !f.url.startsWith('node:') && !f.url.includes('/node_modules/')) ?? report.stack[0];
  const where = frame === undefined ? '' : `${frame.url}:${frame.lineNumber}`;
  return `${report.cause} ${report.method ?? ''} ${report.route ?? ''} ${where}`;
}
