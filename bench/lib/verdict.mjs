/**
 * Whether a comparison met its target, and only as far as the run's noise
 * allows. Pure: no I/O.
 *
 * The noise is the A/A control's (bare against bare, same baseline, same
 * run) widest departure from 1 over its kept pairs: a difference smaller
 * than that is one this run cannot tell from nothing. So
 *   PASS       ratio − noise ≥ target,
 *   FAIL       ratio + noise < target,
 *   undecided  anything in between, and any run that cannot be judged:
 *              no usable control, too few pairs measured or kept, every
 *              pair noisy;
 *   INVALID    a pair had wrk errors or non-2xx answers (fast errors are
 *              not throughput).
 */

/** Issue 12: every comparison is measured in at least this many pairs. */
export const MIN_PAIRS = 6;
/** A verdict rests on at least this many kept pairs … */
export const MIN_KEPT = 4;
/** … and on at least this share of the pairs measured (a median of the survivors of a bad run is not a measurement). */
export const MIN_KEPT_SHARE = 2 / 3;

/** Why a summary cannot carry a verdict, or undefined when it can. */
export function unusable(summary) {
  if (summary.invalid) return 'errors or non-2xx in a pair';
  if (summary.total < MIN_PAIRS) return `${summary.total} pairs measured, ${MIN_PAIRS} needed`;
  if (summary.fallback) return 'every pair noisy';
  const needed = Math.max(MIN_KEPT, Math.ceil(summary.total * MIN_KEPT_SHARE));
  if (summary.kept < needed) return `${summary.kept}/${summary.total} pairs kept, ${needed} needed`;
  if (!Number.isFinite(summary.ratio)) return 'no ratio';
  return undefined;
}

/**
 * The run's noise floor from its A/A control summary: { noise } or
 * { reason } when the control is missing or cannot vouch for anything.
 */
export function noiseFloor(control) {
  if (!control) return { reason: 'no A/A control in this run' };
  const why = unusable(control);
  if (why) return { reason: `A/A control unusable: ${why}` };
  const departures = control.rows.filter((r) => r.kept).map((r) => Math.abs(r.ratio - 1));
  if (departures.length === 0 || !departures.every(Number.isFinite)) return { reason: 'A/A control has no finite ratios' };
  return { noise: Math.max(...departures) };
}

/** { word: 'PASS' | 'FAIL' | 'undecided' | 'INVALID', reason } for one comparison with a target. */
export function verdict({ target, summary, floor }) {
  if (summary.invalid) return { word: 'INVALID', reason: 'errors or non-2xx in a pair' };
  const why = unusable(summary) ?? floor.reason;
  if (why) return { word: 'undecided', reason: why };
  const { noise } = floor;
  if (summary.ratio - noise >= target) return { word: 'PASS', reason: `${summary.ratio.toFixed(3)} − ${noise.toFixed(3)} ≥ ${target}` };
  if (summary.ratio + noise < target) return { word: 'FAIL', reason: `${summary.ratio.toFixed(3)} + ${noise.toFixed(3)} < ${target}` };
  return { word: 'undecided', reason: `${summary.ratio.toFixed(3)} ± ${noise.toFixed(3)} spans ${target}` };
}
