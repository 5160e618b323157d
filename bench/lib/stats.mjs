/**
 * Pure statistics for A/B pairs: no I/O, no timers.
 *
 * Which pairs count:
 * - A pair with wrk socket errors or non-2xx answers invalidates its whole
 *   comparison: a variant that answers 500s fast posts higher req/s, so no
 *   ratio from such a run can be trusted (the verdict says INVALID).
 * - A pair whose baseline itself moved is dropped. These machines flip
 *   between a fast and a slow state (the same server measures ~7.5 k or
 *   ~3.5 k req/s). Whether the machine state moved can only be read from
 *   servers whose cost is known: the bare A/A control measured in the same
 *   round. A baseline that disagrees with that control by more than
 *   SWITCH_FACTOR ran in another state than its round. The variant side is
 *   never judged by its own speed: a round where only the variant was slow
 *   is a measurement of the variant, and it is kept. Concurrent pairs (the
 *   default) run both sides at the same instants, so a switch hits both
 *   alike: the bench passes no control for them and nothing is dropped.
 * - A pair where either server waited for its core (schedstat run-queue
 *   wait) measured someone else's load too: dropped.
 */

/** A baseline this far from the A/A control's reading of the same round ran in another machine state. */
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

const served = (run) => run.rps > 0 && run.requests > 0;
const hasErrors = (run) => run.errors > 0 || run.non2xx > 0;

/**
 * The machine state of each round as the A/A control saw it: the median of
 * its two bare sides, from control pairs that served, were not contended and
 * had no errors. Rounds without a usable control reading are absent.
 */
export function controlReadings(controlPairs = []) {
  const byRound = new Map();
  for (const p of controlPairs) {
    if (!served(p.base) || !served(p.variant) || hasErrors(p.base) || hasErrors(p.variant)) continue;
    if (Math.max(waitOf(p.base), waitOf(p.variant)) > CONTENDED_SHARE) continue;
    byRound.set(p.round, median([p.base.rps, p.variant.rps]));
  }
  return byRound;
}

/**
 * pairs: [{ round, order, base: run, variant: run }] for one comparison, where
 * run = { rps, requests, cpuSeconds, errors, non2xx, waitSeconds?, wallSeconds }.
 * `baselineMedian`: the median req/s of this baseline over every pair of the
 * whole bench (for the slow-state note). `controlPairs`: the A/A control's
 * pairs on the same baseline in the same run (the state reference); absent
 * for the control itself, or when the run has none (then nothing is dropped
 * as a state switch, and the verdict cannot be decided anyway).
 */
export function analysePairs(pairs, { baselineMedian = NaN, controlPairs } = {}) {
  const reference = controlPairs ? controlReadings(controlPairs) : undefined;
  const rows = pairs.map((p) => {
    const ratio = p.variant.rps / p.base.rps;
    const baseCpu = cpuUsPerRequest(p.base);
    const variantCpu = cpuUsPerRequest(p.variant);
    const wait = Math.max(waitOf(p.base), waitOf(p.variant));
    const failed = !(served(p.base) && served(p.variant));
    const errored = hasErrors(p.base) || hasErrors(p.variant);
    const state = reference?.get(p.round);
    const moved = state === undefined ? NaN : p.base.rps / state;
    const straddled = !failed && (moved > SWITCH_FACTOR || moved < 1 / SWITCH_FACTOR);
    const contended = wait > CONTENDED_SHARE;
    const notes = [];
    if (failed) notes.push('invalid: a side served nothing');
    if (errored) notes.push(`invalid: wrk errors ${p.base.errors}/${p.variant.errors}, non-2xx ${p.base.non2xx}/${p.variant.non2xx} (base/variant)`);
    if (straddled) notes.push(`dropped: baseline ×${moved.toFixed(2)} off the A/A control of its round (state switch)`);
    if (contended) notes.push(`${straddled ? '' : 'dropped: '}core shared (server waited ${(wait * 100).toFixed(0)} % of the run for other processes)`);
    if (reference && state === undefined && !failed) notes.push('no A/A reading this round: state not judged');
    if (p.base.rps < SLOW_FACTOR * baselineMedian) notes.push('slow state');
    const invalid = failed || errored;
    return { ...p, ratio, baseCpu, variantCpu, cpuDelta: variantCpu - baseCpu, cpuRatio: baseCpu / variantCpu, invalid, kept: !invalid && !straddled && !contended, notes };
  });
  let kept = rows.filter((r) => r.kept);
  // Nothing clean at all (a machine busy throughout): report the median of every valid pair, flagged; it decides nothing.
  const fallback = kept.length === 0;
  if (fallback) kept = rows.filter((r) => !r.invalid);
  const ratios = kept.map((r) => r.ratio);
  return {
    rows,
    fallback,
    invalid: rows.some((r) => r.invalid),
    judgedState: reference !== undefined,
    kept: fallback ? 0 : kept.length,
    total: rows.length,
    ratio: median(ratios),
    ratioMin: ratios.length ? Math.min(...ratios) : NaN,
    ratioMax: ratios.length ? Math.max(...ratios) : NaN,
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
