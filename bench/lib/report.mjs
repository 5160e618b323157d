/** Text and Markdown rendering of bench results. Pure: returns strings. */

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fix = (n, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const signed = (n, d = 1) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(d)}` : '—');

/** Column-aligned plain text (left-aligns the first column, right-aligns the rest). */
export function textTable(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(header, rows) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** Widest departure from 1 of the A/A control's kept pairs: what this run can resolve. */
export function noiseFloor(results) {
  const control = results.find((r) => r.variant.name === 'aa');
  if (!control) return undefined;
  const kept = control.summary.rows.filter((r) => r.kept || control.summary.fallback);
  return Math.max(...kept.map((r) => Math.abs(r.ratio - 1)));
}

/** A floor wider than this makes a 3 % target unjudgeable: the verdict says so. */
const NOISY_FLOOR = 0.03;

function verdict(v, s, floor) {
  if (v.target === undefined) return '';
  const word = s.ratio >= v.target ? 'PASS' : 'FAIL';
  return floor !== undefined && floor > NOISY_FLOOR ? `${word}?` : word;
}

export const SUMMARY_HEADER = ['variant', 'baseline', 'base req/s', 'variant req/s', 'ratio (median)', 'min–max', 'target', 'verdict', 'pairs kept', 'Δ CPU µs/req', 'CPU ratio'];

export function summaryRows(results) {
  const floor = noiseFloor(results);
  return results.map(({ variant: v, baseline, summary: s }) => [
    v.label,
    baseline.label,
    int(s.baseRps),
    int(s.variantRps),
    fix(s.ratio),
    `${fix(s.ratioMin)}–${fix(s.ratioMax)}`,
    v.target === undefined ? '' : `≥ ${v.target.toFixed(2)}`,
    verdict(v, s, floor),
    s.fallback ? `0/${s.total} (all noisy)` : `${s.kept}/${s.total}`,
    signed(s.cpuDelta),
    fix(s.cpuRatio),
  ]);
}

/** One line under the summary: the A/A control's spread, and what a '?' verdict means. */
export function noiseNote(results, concurrent = false) {
  const floor = noiseFloor(results);
  if (floor === undefined) return '';
  const tail = floor > NOISY_FLOOR ? ` — wider than ${NOISY_FLOOR * 100} %, so verdicts carry a '?': this run cannot tell a 3 % difference from noise${concurrent ? '' : ' (try --concurrent)'}` : '';
  return `A/A control (bare vs bare): pairs within ±${(floor * 100).toFixed(1)} %${tail}.`;
}

export const PAIR_HEADER = ['pair', 'order', 'base req/s', 'variant req/s', 'ratio', 'base µs/req', 'variant µs/req', 'Δ µs/req', 'base p99 ms', 'variant p99 ms', 'core wait %', 'note'];

const waitPercent = (run) => (run.waitSeconds === undefined ? NaN : (100 * run.waitSeconds) / run.wallSeconds);

export function pairRows(summary) {
  return summary.rows.map((r) => [
    String(r.round + 1),
    r.order,
    int(r.base.rps),
    int(r.variant.rps),
    fix(r.ratio),
    fix(r.baseCpu, 1),
    fix(r.variantCpu, 1),
    signed(r.cpuDelta),
    fix(r.base.latency.p99, 1),
    fix(r.variant.latency.p99, 1),
    `${fix(waitPercent(r.base), 0)} / ${fix(waitPercent(r.variant), 0)}`,
    r.notes.join('; '),
  ]);
}

export const IDLE_HEADER = ['process', '% of a core (median)', 'extra over bare', 'budget', 'verdict', 'per round'];

export function idleRows(idle, variants) {
  return variants.map((v) => {
    const extra = idle.summary[v.arg].extra;
    return [
      v.label,
      fix(idle.summary[v.arg].percent, 2),
      v.arg === variants[0].arg ? '' : `${signed(extra, 2)} pp`,
      v.budget === undefined ? '' : `< ${v.budget} pp`,
      v.budget === undefined ? '' : extra < v.budget ? 'PASS' : 'FAIL',
      idle.rounds.map((r) => fix(r.byVariant[v.arg], 2)).join(', '),
    ];
  });
}
