import { culpritFrame, formatFrame } from '../contract/frames';
import type { RequestRecord } from '../core/request-context';
import type { StallReport } from '../core/stall-report';

/** The parts of an `@opentelemetry/api` Span that loopguard touches. */
export interface SpanLike {
  addEvent(name: string, attributes?: Record<string, string | number>, time?: [number, number]): unknown;
  end(endTime?: unknown): void;
  isRecording(): boolean;
}

/** A culprit's span whose end waits for its stall report. */
interface Held {
  readonly span: SpanLike;
  readonly heldAt: number;
  readonly originalEnd: SpanLike['end'];
  readonly hadOwnEnd: boolean;
  endRequested: boolean;
  endTime: unknown;
}

/**
 * A captured span is released at the latest after this long, report or not:
 * the guard waits up to 2 s (twice, worst case) for the watchdog's samples.
 */
export const HOLD_MAX_MS = 5000;
const STACK_FRAMES_IN_EVENT = 10;

export const STALL_EVENT = 'loopguard.stall';
export const DELAYED_EVENT = 'loopguard.delayed';

/**
 * Puts stalls on the traces of the requests involved: the culprit's span gets
 * a `loopguard.stall` event (duration, blocking frame), a victim's span a
 * `loopguard.delayed` event (how long it waited for the loop).
 *
 * The culprit's span usually ends before its stall can be reported: a handler
 * that blocks and then responds ends its server span in the same loop turn,
 * and the stall is measured only when the loop turns again. So when the
 * watchdog catches a traced request holding the loop, its span's `end` is
 * held back (keeping the real end time) until the report is made, then
 * replayed. Only culprits are held, at most HOLD_MAX_MS.
 */
export class SpanLinks {
  private readonly held = new Map<number, Held>();

  constructor(
    /** A victim that waited at least this long (ms) gets the `loopguard.delayed` event. */
    readonly delayedEventMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs while the main thread is paused inside the stall: must stay tiny. */
  hold(record: RequestRecord): void {
    const span = record.span as SpanLike | undefined;
    if (span === undefined || this.held.has(record.id) || !span.isRecording()) return;
    const held: Held = {
      span,
      heldAt: performance.now(),
      originalEnd: span.end,
      hadOwnEnd: Object.prototype.hasOwnProperty.call(span, 'end'),
      endRequested: false,
      endTime: undefined,
    };
    span.end = function heldEnd(endTime?: unknown): void {
      if (held.endRequested) return;
      held.endRequested = true;
      held.endTime = endTime ?? hrTimeOf(performance.timeOrigin + performance.now());
    };
    this.held.set(record.id, held);
  }

  /** A stall report blaming request `requestId`. */
  culprit(requestId: number, report: StallReport): void {
    const held = this.held.get(requestId);
    if (held === undefined) return;
    try {
      if (held.span.isRecording()) held.span.addEvent(STALL_EVENT, stallAttributes(report), hrTimeOf(report.startedAt));
    } catch (err) {
      this.onError(err);
    }
    this.release(requestId, held);
  }

  /** The watchdog's samples have been used: spans held for them and not blamed get their end back. */
  samplesUsed(requestIds: Iterable<number>): void {
    for (const id of requestIds) {
      const held = this.held.get(id);
      if (held !== undefined) this.release(id, held);
    }
  }

  /** A request finished after waiting `waitedMs` for the loop (victim side). */
  finished(record: RequestRecord, waitedMs: number): void {
    const span = record.span as SpanLike | undefined;
    if (span === undefined || waitedMs < this.delayedEventMs) return;
    try {
      if (span.isRecording()) span.addEvent(DELAYED_EVENT, { 'loopguard.delay_ms': round1(waitedMs) });
    } catch (err) {
      this.onError(err);
    }
  }

  /** Releases holds whose report never came (a capture that was not a stall, a stale capture). */
  sweep(now: number = performance.now()): void {
    for (const [id, held] of this.held) if (now - held.heldAt >= HOLD_MAX_MS) this.release(id, held);
  }

  get heldCount(): number {
    return this.held.size;
  }

  close(): void {
    for (const [id, held] of this.held) this.release(id, held);
  }

  private release(id: number, held: Held): void {
    this.held.delete(id);
    try {
      const span = held.span as Partial<SpanLike>;
      if (held.hadOwnEnd) span.end = held.originalEnd;
      else delete span.end;
      if (held.endRequested) held.originalEnd.call(held.span, held.endTime);
    } catch (err) {
      this.onError(err);
    }
  }
}

function stallAttributes(report: StallReport): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'loopguard.stall.id': report.id,
    'loopguard.stall.duration_ms': report.durationMs,
    'loopguard.stall.victims': report.victims,
    'loopguard.stall.cause': report.cause,
  };
  // What the thread was doing; the times only where measured.
  if (report.state != null) attributes['loopguard.stall.state'] = report.state;
  const t = report.threadTime ?? { onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: null };
  if (t.onCpuMs !== null) attributes['loopguard.stall.on_cpu_ms'] = t.onCpuMs;
  if (t.waitingMs !== null) attributes['loopguard.stall.waiting_ms'] = t.waitingMs;
  if (t.throttledMs !== null) attributes['loopguard.stall.throttled_ms'] = t.throttledMs;
  if (t.gcMs !== null) attributes['loopguard.stall.gc_ms'] = t.gcMs;
  if (report.advice) {
    attributes['loopguard.advice.kind'] = report.advice.kind;
    if (report.advice.call !== null) attributes['loopguard.advice.call'] = report.advice.call;
    attributes['loopguard.advice.fix'] = report.advice.fix;
    attributes['loopguard.advice.docs'] = report.advice.docs;
  }
  const frame = culpritFrame(report.stack);
  if (frame !== undefined) {
    // Semantic-convention code attributes, so trace UIs can link to the source.
    attributes['code.function.name'] = frame.functionName;
    attributes['code.file.path'] = frame.url;
    attributes['code.line.number'] = frame.lineNumber;
    attributes['code.column.number'] = frame.columnNumber;
    attributes['code.stacktrace'] = report.stack.slice(0, STACK_FRAMES_IN_EVENT).map((f) => formatFrame(f)).join('\n');
  }
  return attributes;
}

/** Epoch milliseconds → OTel HrTime ([seconds, nanoseconds]): unambiguous, unlike a bare number. */
export function hrTimeOf(epochMs: number): [number, number] {
  let seconds = Math.floor(epochMs / 1000);
  let nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds++;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
