/**
 * The loop budget's bookkeeping, pure: which requests took more of the loop
 * than the budget, by route, and the function that held it. No timers, no I/O;
 * fed by the recorder (src/budget/recorder.ts), read by the table.
 */
import type { Advice } from '../contract/advice';
import type { StackFrame } from '../contract/frames';
import { dirname, sep } from 'node:path';
import { isAppFrame } from '../contract/frames';

/** loopguard's own code (this file lives in dist/test): never the function to blame, wherever it is installed. */
const OWN_CODE = `${dirname(__dirname)}${sep}`;

function isOwnAppFrame(frame: StackFrame): boolean {
  return isAppFrame(frame) && !frame.url.startsWith(OWN_CODE);
}

/** The frame a person reads first: the app's own code, else the top frame. */
function blamedFrame(stack: readonly StackFrame[]): StackFrame | null {
  return stack.find(isOwnAppFrame) ?? stack[0] ?? null;
}

/**
 * A capture can land at a moment of the request other than its blocking (the
 * loop was already late from whatever ran before it): one inside the app's
 * own code is the better witness.
 */
function witness<T extends { stack: readonly StackFrame[] | null }>(candidates: readonly T[]): T | undefined {
  return candidates.find((c) => c.stack !== null && c.stack.some(isOwnAppFrame)) ?? candidates.find((c) => c.stack !== null && c.stack.length > 0);
}

/** What to do about the blocking (src/advice), as a stall report carries it. */
export type BudgetAdvice = Advice;

/** One finished request, as the recorder hands it over. */
export interface FinishedRequestTime {
  id: number;
  method: string;
  /** Route template or sentinel, as the metrics label it. */
  route: string;
  /** Own synchronous time on the loop (precise mode), ms. */
  ownMs: number;
  /** The request's stalls are declared expected: measured, never an offender. */
  expected?: boolean;
  /** Not judged whatever the route's count (startup grace). */
  warmup?: boolean;
}

/** One offending route in a summary. Plain JSON: summaries cross process boundaries. */
export interface BudgetRow {
  method: string;
  route: string;
  /** Requests judged on this route (warm-up excluded). */
  requests: number;
  overBudget: number;
  worstMs: number;
  /** Own time of every judged request on this route, ms. */
  totalMs: number;
  /** The frame a person reads first (the app's own code), from the worst offender whose stack was caught. */
  frame: StackFrame | null;
  advice: BudgetAdvice | null;
}

/** A route whose only requests over the budget were warm-up: listed, never failing the run. */
export interface WarmupNote {
  method: string;
  route: string;
  worstMs: number;
}

export interface BudgetSummary {
  budgetMs: number;
  /** Requests judged (warm-up and expected blocking excluded). */
  judged: number;
  warmup: number;
  rows: BudgetRow[];
  warmupOver: WarmupNote[];
}

interface RouteTally {
  method: string;
  route: string;
  seen: number;
  requests: number;
  totalMs: number;
  warmupWorstMs: number;
  /** Offending requests by id; bounded (the worst are kept). */
  offenders: Map<number, Offender>;
  overBudget: number;
}

interface Offender {
  ownMs: number;
  stack: StackFrame[] | null;
  advice: BudgetAdvice | null;
}

/** A capture of a request holding the loop: its stack, and how long the pause itself held the loop. */
export interface RequestCapture {
  requestId: number;
  stack: StackFrame[];
  /** Time the main thread spent paused for this capture: loopguard's doing, not the request's. */
  pausedMs: number;
  advice?: BudgetAdvice | null;
  /** Caught inside `guard.expectBlocking(fn)`: the request's blocking was declared expected. */
  expected?: boolean;
}

const OFFENDERS_KEPT = 64;
const CAPTURES_KEPT = 256;

export class BudgetLedger {
  private readonly routes = new Map<string, RouteTally>();
  /** Captures by request id, kept until the request finishes (captures may also arrive after it). */
  private readonly captures = new Map<number, RequestCapture[]>();
  /** Offenders by request id, to attach a capture that arrives after the request finished. */
  private readonly offendersById = new Map<number, RouteTally>();
  private judged = 0;
  private warmup = 0;

  constructor(
    readonly budgetMs: number,
    /** Requests per route (method + template) not judged: the first one compiles the route's code. */
    private readonly warmupRequests: number,
  ) {}

  finished(request: FinishedRequestTime): void {
    const key = `${request.method} ${request.route}`;
    let tally = this.routes.get(key);
    if (tally === undefined) {
      tally = { method: request.method, route: request.route, seen: 0, requests: 0, totalMs: 0, warmupWorstMs: 0, offenders: new Map(), overBudget: 0 };
      this.routes.set(key, tally);
    }
    const captures = this.captures.get(request.id);
    this.captures.delete(request.id);
    const ownMs = Math.max(0, request.ownMs - pausedTotal(captures));
    if (tally.seen++ < this.warmupRequests || request.warmup === true) {
      this.warmup++;
      if (ownMs > tally.warmupWorstMs) tally.warmupWorstMs = ownMs;
      return;
    }
    if (request.expected === true || captures?.some((c) => c.expected === true)) return;
    this.judged++;
    tally.requests++;
    tally.totalMs += ownMs;
    if (ownMs <= this.budgetMs) return;
    tally.overBudget++;
    const best = witness([...(captures ?? [])].reverse());
    this.keepOffender(tally, request.id, { ownMs, stack: best?.stack ?? null, advice: best?.advice ?? null });
  }

  /** A capture caught request `requestId` holding the loop; it may finish before or after this. */
  captured(capture: RequestCapture): void {
    const tally = this.offendersById.get(capture.requestId);
    const offender = tally?.offenders.get(capture.requestId);
    if (tally !== undefined && offender !== undefined) {
      // Finished already, judged without this capture: judge again with the pause's time taken off.
      offender.ownMs -= capture.pausedMs;
      tally.totalMs -= capture.pausedMs;
      if (witness([offender, capture]) === capture) {
        offender.stack = capture.stack;
        offender.advice = capture.advice ?? null;
      }
      if (offender.ownMs <= this.budgetMs || capture.expected === true) {
        tally.offenders.delete(capture.requestId);
        this.offendersById.delete(capture.requestId);
        tally.overBudget--;
      }
      return;
    }
    const list = this.captures.get(capture.requestId);
    if (list !== undefined) list.push(capture);
    else this.captures.set(capture.requestId, [capture]);
    if (this.captures.size > CAPTURES_KEPT) this.captures.delete(this.captures.keys().next().value as number);
  }

  get hasOffenders(): boolean {
    for (const tally of this.routes.values()) if (tally.overBudget > 0) return true;
    return false;
  }

  summary(): BudgetSummary {
    const rows: BudgetRow[] = [];
    const warmupOver: WarmupNote[] = [];
    for (const tally of this.routes.values()) {
      if (tally.overBudget > 0) rows.push(rowOf(tally));
      else if (tally.warmupWorstMs > this.budgetMs && tally.requests === 0) {
        warmupOver.push({ method: tally.method, route: tally.route, worstMs: round(tally.warmupWorstMs) });
      }
    }
    rows.sort((a, b) => b.worstMs - a.worstMs);
    return { budgetMs: this.budgetMs, judged: this.judged, warmup: this.warmup, rows, warmupOver };
  }

  private keepOffender(tally: RouteTally, id: number, offender: Offender): void {
    tally.offenders.set(id, offender);
    this.offendersById.set(id, tally);
    if (tally.offenders.size <= OFFENDERS_KEPT) return;
    // Keep the worst: they are the ones the table shows.
    let leastId = id;
    let least = offender.ownMs;
    for (const [otherId, other] of tally.offenders) {
      if (other.ownMs < least) {
        least = other.ownMs;
        leastId = otherId;
      }
    }
    tally.offenders.delete(leastId);
    this.offendersById.delete(leastId);
  }
}

function rowOf(tally: RouteTally): BudgetRow {
  const byWorst = [...tally.offenders.values()].sort((a, b) => b.ownMs - a.ownMs);
  const worst = byWorst[0];
  const worstCaught = witness(byWorst);
  return {
    method: tally.method,
    route: tally.route,
    requests: tally.requests,
    overBudget: tally.overBudget,
    worstMs: round(worst?.ownMs ?? 0),
    totalMs: round(tally.totalMs),
    frame: worstCaught?.stack ? blamedFrame(worstCaught.stack) : null,
    advice: worstCaught?.advice ?? null,
  };
}

/** The app's own code beats a dependency's frame; between equals, the worse request's. */
function betterFrame(frame: StackFrame, worstMs: number, than: StackFrame, thanWorstMs: number): boolean {
  const own = isOwnAppFrame(frame);
  const otherOwn = isOwnAppFrame(than);
  return own !== otherOwn ? own : worstMs > thanWorstMs;
}

function pausedTotal(captures: readonly RequestCapture[] | undefined): number {
  let total = 0;
  if (captures !== undefined) for (const c of captures) total += c.pausedMs;
  return total;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Summaries of several processes (a test runner's workers) as one: rows of the same route add up. */
export function mergeSummaries(budgetMs: number, summaries: readonly BudgetSummary[]): BudgetSummary {
  const rows = new Map<string, BudgetRow>();
  const warmup = new Map<string, WarmupNote>();
  let judged = 0;
  let warmupCount = 0;
  for (const summary of summaries) {
    judged += summary.judged;
    warmupCount += summary.warmup;
    for (const row of summary.rows) {
      const key = `${row.method} ${row.route}`;
      const seen = rows.get(key);
      if (seen === undefined) {
        rows.set(key, { ...row });
        continue;
      }
      seen.requests += row.requests;
      seen.overBudget += row.overBudget;
      seen.totalMs = round(seen.totalMs + row.totalMs);
      // The function comes with the worst request that has one.
      if (row.frame !== null && (seen.frame === null || betterFrame(row.frame, row.worstMs, seen.frame, seen.worstMs))) {
        seen.frame = row.frame;
        seen.advice = row.advice;
      }
      seen.worstMs = Math.max(seen.worstMs, row.worstMs);
    }
    for (const note of summary.warmupOver) {
      const key = `${note.method} ${note.route}`;
      const seen = warmup.get(key);
      if (seen === undefined || note.worstMs > seen.worstMs) warmup.set(key, { ...note });
    }
  }
  // A route over the budget only in one process's warm-up but judged elsewhere is not a warm-up note.
  for (const key of rows.keys()) warmup.delete(key);
  return {
    budgetMs,
    judged,
    warmup: warmupCount,
    rows: [...rows.values()].sort((a, b) => b.worstMs - a.worstMs),
    warmupOver: [...warmup.values()],
  };
}
