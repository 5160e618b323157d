import type { Advice } from '../contract/advice';
import { STALL_BUCKETS_SECONDS, STALL_THREAD_STATES } from '../catalogue';
import { THREAD_MAIN } from '../contract/threads';
import { culpritFrame } from '../contract/frames';
import { Histogram } from '../core/histogram';
import { normaliseMethod } from '../core/routes';
import type { StallCause, StallReport } from '../core/stall-report';
import { threadTimeByState, type ThreadSecondsState } from '../core/stall-state';
import type { StackFrame } from '../contract/frames';

const UNKNOWN_THREAD_TIME = Object.freeze({ onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: null });

/** Cumulative stall totals for one (route label, method, cause). */
export interface StallCounter {
  /** The loop that stalled: `main` or a worker thread's label. */
  readonly thread: string;
  readonly route: string;
  readonly method: string;
  readonly cause: StallCause;
  count: number;
  seconds: number;
  /** The frame a person wants to see for the latest stall here. */
  topFrame: StackFrame | undefined;
  /** The latest advice given here: a culprit keeps its advice when one stall was not captured. */
  advice: Advice | null;
  lastAt: number;
  /** How many of `count` were work the route left behind after answering. */
  afterResponse: number;
}

/**
 * Stall totals by culprit, the duration histograms by cause, and a ring of
 * recent reports. Touched once per stall, so plain Maps are fine here.
 */
export class StallStats {
  private readonly counters = new Map<string, StallCounter>();
  readonly durations: Record<StallCause, Histogram> = {
    request: new Histogram(STALL_BUCKETS_SECONDS),
    background: new Histogram(STALL_BUCKETS_SECONDS),
    gc: new Histogram(STALL_BUCKETS_SECONDS),
    expected: new Histogram(STALL_BUCKETS_SECONDS),
    host: new Histogram(STALL_BUCKETS_SECONDS),
    task: new Histogram(STALL_BUCKETS_SECONDS),
  };
  /** Stalled seconds by what the thread was doing (every state present, so each series starts at 0). */
  readonly threadSeconds = Object.fromEntries(STALL_THREAD_STATES.map((state) => [state, 0])) as Record<ThreadSecondsState, number>;
  private readonly recentReports: StallReport[] = [];
  total = 0;

  constructor(private readonly keepRecent: number) {}

  record(report: StallReport, routeLabel: string): void {
    // As the request stats do: the method is the client's (http2's :method is not limited the way HTTP/1's parser limits it).
    const method = report.method === null ? '' : normaliseMethod(report.method);
    const thread = report.thread ?? THREAD_MAIN;
    const key = `${thread}\u0000${routeLabel}\u0000${method}\u0000${report.cause}`;
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = { thread, route: routeLabel, method, cause: report.cause, count: 0, seconds: 0, topFrame: undefined, advice: null, lastAt: 0, afterResponse: 0 };
      this.counters.set(key, counter);
    }
    const seconds = report.durationMs / 1000;
    counter.count++;
    counter.seconds += seconds;
    counter.lastAt = report.startedAt;
    if (report.afterResponse) counter.afterResponse++;
    counter.topFrame = culpritFrame(report.stack) ?? counter.topFrame;
    counter.advice = report.advice ?? counter.advice;
    this.durations[report.cause].record(seconds);
    // A report made before reports had thread time (a test's fake, an older copy's) counts as unknown.
    const byState = threadTimeByState(report.durationMs, report.threadTime ?? UNKNOWN_THREAD_TIME);
    for (const state of STALL_THREAD_STATES) this.threadSeconds[state] += byState[state] / 1000;
    this.total++;
    if (this.keepRecent > 0) {
      if (this.recentReports.length >= this.keepRecent) this.recentReports.shift();
      this.recentReports.push(report);
    }
  }

  all(): IterableIterator<StallCounter> {
    return this.counters.values();
  }

  recent(): readonly StallReport[] {
    return this.recentReports;
  }
}
