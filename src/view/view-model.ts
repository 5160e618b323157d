import type { LoopGuardSnapshot } from '../collectors/snapshot';
import type { StallReport } from '../core/stall-report';
import type { StackFrame } from '../contract/frames';
import { isAppFrame } from '../contract/frames';
import type { HistoryPoint, WindowDelay } from './history';
import { displayPath } from './paths';

/** A stack frame as the page shows it: the file relative to the app root. */
export interface ViewFrame {
  fn: string;
  file: string;
  line: number;
  column: number;
  /** The app's own code (not Node's, not a dependency's). */
  app: boolean;
}

/** A stall report as the page shows it: the same fields, frames made safe to show. */
export type ViewStall = Omit<StallReport, 'stack'> & { stack: ViewFrame[] };

/** What `snapshot.json` serves: the guard's snapshot with paths made safe to show, plus the chart history. */
export interface ViewSnapshot {
  at: number;
  thresholdMs: number;
  watchdogRunning: boolean;
  eventLoop: LoopGuardSnapshot['eventLoop'];
  /** Loop delay over the last seconds from the heartbeat histogram (what `eventloop_delay_seconds` exports). */
  delayWindow: WindowDelay;
  requestsInFlight: number;
  stallsTotal: number;
  /** Stalled seconds by what the loop's thread was doing (`stall_thread_seconds_total`). */
  stallThreadSeconds: LoopGuardSnapshot['stallThreadSeconds'];
  culprits: Array<Omit<LoopGuardSnapshot['culprits'][number], 'topFrame'> & { topFrame: string | null }>;
  routes: LoopGuardSnapshot['routes'];
  /** Newest first. */
  recentStalls: ViewStall[];
  history: readonly HistoryPoint[];
  /** Load shedding state; null when the `shed` option is off. */
  shedding: LoopGuardSnapshot['shedding'];
  /** libuv's pool (delay null when the probe is off) and the watched worker pools. */
  threadPool: LoopGuardSnapshot['threadPool'];
  /** Sampled share of the loop's busy time by route; null when sampling is off. */
  busy: LoopGuardSnapshot['busy'];
}

export function toViewSnapshot(snapshot: LoopGuardSnapshot, history: readonly HistoryPoint[], delayWindow: WindowDelay, root: string): ViewSnapshot {
  const frame = (f: StackFrame): ViewFrame => ({
    fn: f.functionName,
    file: displayPath(f.url, root),
    line: f.lineNumber,
    column: f.columnNumber,
    app: isAppFrame(f),
  });
  return {
    at: snapshot.at,
    thresholdMs: snapshot.thresholdMs,
    watchdogRunning: snapshot.watchdogRunning,
    eventLoop: snapshot.eventLoop,
    delayWindow,
    requestsInFlight: snapshot.requestsInFlight,
    stallsTotal: snapshot.stallsTotal,
    stallThreadSeconds: snapshot.stallThreadSeconds,
    culprits: snapshot.culprits.map((c) => ({
      ...c,
      topFrame: c.topFrame ? formatViewFrame(frame(c.topFrame)) : null,
    })),
    routes: snapshot.routes,
    recentStalls: snapshot.recentStalls
      .map((s) => ({
        id: s.id,
        startedAt: s.startedAt,
        durationMs: s.durationMs,
        route: s.route,
        method: s.method,
        cause: s.cause,
        victims: s.victims,
        advice: s.advice,
        afterResponse: s.afterResponse,
        thread: s.thread ?? 'main',
        state: s.state,
        threadTime: s.threadTime,
        interrupted: s.interrupted,
        stack: s.stack.map(frame),
      }))
      .reverse(),
    history,
    shedding: snapshot.shedding ?? null,
    threadPool: snapshot.threadPool,
    busy: snapshot.busy ?? null,
  };
}

/** `fn (file:line)`, the same shape as `formatFrame`, with the file already made safe to show. */
export function formatViewFrame(f: ViewFrame): string {
  return f.file === '' ? f.fn : `${f.fn} (${f.file}:${f.line})`;
}
