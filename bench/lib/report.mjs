/** Text and Markdown rendering of bench results. Pure: returns strings. */
import { noiseFloor, verdict } from './verdict.mjs';

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

/** The A/A control measured against the same baseline in the same run, if any. */
export function controlOf(results, baseline) {
  return results.find((r) => r.variant.control && r.variant.baseline === baseline)?.summary;
}

/** Each result with its verdict ({ word, reason }; empty for rows without a target). */
export function judged(results) {
  return results.map((r) => {
    const { variant: v, summary: s } = r;
    if (v.target === undefined) return { ...r, verdict: { word: s.invalid ? 'INVALID' : '', reason: s.invalid ? 'errors or non-2xx in a pair' : '' } };
    return { ...r, verdict: verdict({ target: v.target, summary: s, floor: noiseFloor(controlOf(results, v.baseline)) }) };
  });
}

export const SUMMARY_HEADER = ['variant', 'baseline', 'base req/s', 'variant req/s', 'ratio (median)', 'min–max', 'target', 'verdict', 'why', 'pairs kept', 'Δ CPU µs/req', 'CPU ratio'];

export function summaryRows(results) {
  return judged(results).map(({ variant: v, baseline, summary: s, verdict: w }) => [
    v.label,
    baseline.label,
    int(s.baseRps),
    int(s.variantRps),
    fix(s.ratio),
    `${fix(s.ratioMin)}–${fix(s.ratioMax)}`,
    v.control ? 'control' : v.target === undefined ? '' : `≥ ${v.target.toFixed(2)}`,
    w.word,
    w.reason,
    s.fallback ? `0/${s.total} (all noisy)` : `${s.kept}/${s.total}`,
    signed(s.cpuDelta),
    fix(s.cpuRatio),
  ]);
}

/** Lines under the summary: each control's noise floor and what it means for the verdicts. */
export function noiseNote(results) {
  const baselines = [...new Set(results.map((r) => r.variant.baseline))];
  return baselines
    .map((b) => {
      const label = results.find((r) => r.variant.baseline === b).baseline.label;
      const floor = noiseFloor(controlOf(results, b));
      if (floor.reason) return `${label}: ${floor.reason}; its verdicts are undecided.`;
      const pp = (floor.noise * 100).toFixed(1);
      return `${label}: A/A control pairs within ±${pp} %, so PASS needs ratio − ${floor.noise.toFixed(3)} ≥ target and FAIL ratio + ${floor.noise.toFixed(3)} < target; in between is undecided.`;
    })
    .join('\n');
}

/** The run as a whole: INVALID when any pair had errors or non-2xx answers. */
export function runStatus(results) {
  const bad = results.filter((r) => r.summary.invalid).map((r) => r.variant.label);
  return bad.length ? { invalid: true, line: `INVALID run: errors or non-2xx responses in ${bad.join(', ')}; no ratio of this run can be trusted.` } : { invalid: false, line: '' };
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
      v.budget === undefined ? '' : idleVerdict(idle.rounds.map((r) => r.byVariant[v.arg] - r.byVariant[variants[0].arg]), v.budget),
      idle.rounds.map((r) => fix(r.byVariant[v.arg], 2)).join(', '),
    ];
  });
}

/** Idle rounds disagree with each other on a busy machine: PASS only when every round is under budget, FAIL only when none is. */
export function idleVerdict(extras, budget) {
  if (extras.length === 0 || !extras.every(Number.isFinite)) return 'undecided';
  if (extras.every((x) => x < budget)) return 'PASS';
  if (extras.every((x) => x >= budget)) return 'FAIL';
  return 'undecided';
}
