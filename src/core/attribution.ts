import type { Advice } from '../contract/advice';
import { dominantAdvice } from '../advice/dominant';
import type { CaptureSample } from '../contract/messages';



/** A stretch of one measured stall held by one callback. */
export interface StallSegment {
  startedAt: number;
  durationMs: number;
  sample: CaptureSample | null;
  /** What the segment's samples, together, say it was doing. */
  advice: Advice | null;
}

/**
 * Splits one measured stall (the heartbeat's view: start and length) among
 * the callbacks the watchdog caught holding the loop.
 *
 * Two stalls can run back to back in one loop turn with no timer phase in
 * between (a background job, then a culprit), so one late heartbeat may hide
 * several culprits. Consecutive samples of the same callback are one segment.
 * A later, different callback is believed only if it was sampled at least
 * twice: a single sample there is most likely a victim that ran in the few
 * milliseconds after the stall, before the heartbeat could turn.
 */
export function splitStall(startedAt: number, durationMs: number, samples: readonly CaptureSample[]): StallSegment[] {
  if (samples.length === 0) return [{ startedAt, durationMs, sample: null, advice: null }];
  const groups: { sample: CaptureSample; firstAt: number; count: number; all: CaptureSample[] }[] = [];
  for (const sample of samples) {
    const last = groups[groups.length - 1];
    if (last && sameCallback(last.sample, sample)) {
      last.count++;
      last.all.push(sample);
    } else groups.push({ sample, firstAt: sample.at, count: 1, all: [sample] });
  }
  const kept = groups.filter((g, i) => i === 0 || g.count >= 2);
  const endsAt = startedAt + durationMs;
  return kept.map((group, i) => {
    const from = i === 0 ? startedAt : clamp(group.firstAt, startedAt, endsAt);
    const next = kept[i + 1];
    const to = next ? clamp(next.firstAt, from, endsAt) : endsAt;
    return { startedAt: from, durationMs: to - from, sample: group.sample, advice: dominantAdvice(group.all, from) };
  });
}

function sameCallback(a: CaptureSample, b: CaptureSample): boolean {
  return a.asyncId === b.asyncId && (a.request?.id ?? 0) === (b.request?.id ?? 0);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Share of [start, end) covered by the given GC pauses: above one half, the stall is GC's. */
export function gcShare(start: number, end: number, pauses: readonly { start: number; end: number }[]): number {
  if (end <= start) return 0;
  let covered = 0;
  for (const p of pauses) {
    const from = Math.max(start, p.start);
    const to = Math.min(end, p.end);
    if (to > from) covered += to - from;
  }
  return Math.min(1, covered / (end - start));
}

/**
 * Whether a stall belongs to the garbage collector rather than to the code
 * that was running. Mostly GC is not enough: a huge `JSON.parse` or a big
 * sort allocates, and the collections it triggers are part of its own cost.
 * A stall is GC's when GC covers most of it *and* the loop went straight
 * into GC (the first pause starts within `slackMs` of the stall, as with
 * idle-time or heap-limit collections) — then whatever ran next is not to blame.
 */
export function isGcStall(
  start: number,
  end: number,
  pauses: readonly { start: number; end: number }[],
  slackMs: number,
  codeWasSampled: boolean,
): boolean {
  if (gcShare(start, end, pauses) <= 0.5) return false;
  if (!codeWasSampled) return true;
  let first = Infinity;
  for (const p of pauses) if (p.end > start && p.start < end && p.start < first) first = p.start;
  return first - start <= slackMs;
}
