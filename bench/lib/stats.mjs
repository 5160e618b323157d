/**
 * Pure statistics for A/B pairs: no I/O, no timers.
 *
 * The machines this runs on flip between a fast and a slow state (the same
 * server measures ~7.5 k or ~3.5 k req/s). A pair measured entirely in one
 * state still gives a fair ratio; a pair that straddled a switch does not.
 * A pair straddled when its two sides disagree about the state: each side is
 * normalised by the median of its own series, and the two normalised values
 * must agree within SWITCH_FACTOR. Such pairs are dropped from the medians
 * and listed with a note. So are pairs where either server waited for its
 * core (schedstat run-queue wait): other work on the machine, not a state.
 */

/** Two sides of one pair more than this far apart, relative to their medians, straddled a switch. */
export const SWITCH_FACTOR = 1.35;
/**
 * A side whose server's main thread spent more than this share of the run
 * waiting while another process held its core measured someone else's load
 * too: dropped.
 */
export const CONTENDED_SHARE = 0.1;
/** A baseline this far below the median of all baselines ran in the slow state (kept, flagged). */
export const SLOW_FACTOR = 0.7;

export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** CPU time the server spent per request, µs (all threads: main, GC helpers, watchdog). */
export function cpuUsPerRequest(run) {
  return (run.cpuSeconds * 1e6) / run.requests;
}

/**
 * pairs: [{ round, order, base: run, variant: run }] for one comparison, where
 * run = { rps, requests, cpuSeconds }. `baselineMedian` is the median req/s
 * of this baseline over every pair of the whole bench (the state reference).
 */
export function analysePairs(pairs, baselineMedian) {
  const waits = pairs.map((p) => Math.max(waitOf(p.base), waitOf(p.variant)));
  const quiet = pairs.filter((_, i) => waits[i] <= CONTENDED_SHARE);
  const reference = quiet.length > 0 ? quiet : pairs;
  const baseMed = median(reference.map((p) => p.base.rps).filter((x) => x > 0));
  const variantMed = median(reference.map((p) => p.variant.rps).filter((x) => x > 0));
  const rows = pairs.map((p, i) => {
    const ratio = p.variant.rps / p.base.rps;
    const baseCpu = cpuUsPerRequest(p.base);
    const variantCpu = cpuUsPerRequest(p.variant);
    const agreement = p.base.rps / baseMed / (p.variant.rps / variantMed);
    const failed = !(p.base.rps > 0 && p.variant.rps > 0);
    const straddled = !failed && (agreement > SWITCH_FACTOR || agreement < 1 / SWITCH_FACTOR);
    const contended = waits[i] > CONTENDED_SHARE;
    const slow = p.base.rps < SLOW_FACTOR * baselineMedian;
    const notes = [];
    if (failed) notes.push(`dropped: no requests served (wrk errors ${p.base.errors}/${p.variant.errors})`);
    if (straddled) notes.push(`dropped: sides disagree ×${agreement.toFixed(2)} (state switch)`);
    if (contended) notes.push(`${straddled ? '' : 'dropped: '}core shared (server waited ${(waits[i] * 100).toFixed(0)} % of the run for other processes)`);
    if (slow) notes.push('slow state');
    if (p.base.errors || p.variant.errors || p.base.non2xx || p.variant.non2xx) notes.push('errors/non-2xx');
    return { ...p, ratio, baseCpu, variantCpu, cpuDelta: variantCpu - baseCpu, cpuRatio: baseCpu / variantCpu, kept: !failed && !straddled && !contended, notes };
  });
  let kept = rows.filter((r) => r.kept);
  // Nothing clean at all (a machine busy throughout): report the median of everything, flagged.
  const fallback = kept.length === 0;
  if (fallback) kept = rows.filter((r) => r.base.rps > 0 && r.variant.rps > 0);
  const ratios = kept.map((r) => r.ratio);
  return {
    rows,
    fallback,
    kept: fallback ? 0 : kept.length,
    total: rows.length,
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    baseRps: median(kept.map((r) => r.base.rps)),
    variantRps: median(kept.map((r) => r.variant.rps)),
    cpuDelta: median(kept.map((r) => r.cpuDelta)),
    cpuRatio: median(kept.map((r) => r.cpuRatio)),
  };
}

function waitOf(run) {
  return run.waitSeconds === undefined ? 0 : run.waitSeconds / run.wallSeconds;
}

/** Idle CPU: [{ round, byVariant: { name: percentOfCore } }] → median extra % of a core over the baseline. */
export function analyseIdle(rounds, baseline) {
  const names = Object.keys(rounds[0]?.byVariant ?? {});
  const out = {};
  for (const name of names) {
    out[name] = {
      percent: median(rounds.map((r) => r.byVariant[name])),
      extra: name === baseline ? 0 : median(rounds.map((r) => r.byVariant[name] - r.byVariant[baseline])),
    };
  }
  return out;
}
