/**
 * One segment of a stall, several pauses: which advice speaks for it. Each
 * pause vouches for the time since the one before (a late pause for the
 * native call it waited on, a prompt one for the JavaScript it caught
 * running), so the advice with the most time behind it wins; on a tie, the
 * earlier one. Pauses with no advice vouch for nothing.
 */
import type { Advice } from '../contract/advice';

export function dominantAdvice(samples: readonly { at: number; advice?: Advice | null }[], startedAt: number): Advice | null {
  const weights = new Map<string, { advice: Advice; ms: number }>();
  let previous = startedAt;
  let best: { advice: Advice; ms: number } | undefined;
  for (const sample of samples) {
    const ms = Math.max(0, sample.at - previous);
    previous = sample.at;
    if (!sample.advice) continue;
    const key = `${sample.advice.kind}\u0000${sample.advice.call ?? ''}`;
    let entry = weights.get(key);
    if (entry === undefined) weights.set(key, (entry = { advice: sample.advice, ms: 0 }));
    entry.ms += ms;
    if (best === undefined || entry.ms > best.ms) best = entry;
  }
  return best?.advice ?? null;
}
