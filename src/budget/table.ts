/**
 * The loop budget's verdict as text, pure: one table row per offending route
 * (the end of a test run, and withinLoopBudget's AssertionError), or one line
 * saying the budget held. Paths are shown relative to `root` (the cwd).
 */
import { formatFrame } from '../contract/frames';
import type { BudgetRow, BudgetSummary } from './ledger';

const HEADERS = ['route', 'worst', 'total', 'over budget', 'blocking function'] as const;

/** `12.3 ms`, with a precision that suits the value. */
export function formatMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${(Math.round(ms * 10) / 10).toFixed(1)} ms`;
}

function cells(row: BudgetRow, root: string | undefined): string[] {
  return [
    `${row.method} ${row.route}`,
    formatMs(row.worstMs),
    formatMs(row.totalMs),
    `${row.overBudget} of ${row.requests}`,
    // Missed when the time was spread over many short callbacks, or the watchdog was late or not started yet.
    row.frame === null ? '(function not captured)' : formatFrame(row.frame, root),
  ];
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - text.length));
}

/** The lines of the verdict, without a trailing newline. `who` prefixes the first line. */
export function formatBudget(summary: BudgetSummary, root?: string, who = 'loopguard'): string {
  const lines: string[] = [];
  const { rows, budgetMs } = summary;
  const counted = `${summary.judged} request${summary.judged === 1 ? '' : 's'} judged, ${summary.warmup} warm-up`;
  if (rows.length === 0) {
    lines.push(`${who}: loop budget of ${formatMs(budgetMs)} held (${counted})`);
  } else {
    const over = rows.reduce((n, r) => n + r.overBudget, 0);
    lines.push(
      `${who}: loop budget of ${formatMs(budgetMs)} exceeded by ${rows.length} route${rows.length === 1 ? '' : 's'} ` +
        `(${over} request${over === 1 ? '' : 's'} over budget; ${counted}); own synchronous time on the event loop per request:`,
    );
    const table = rows.map((row) => cells(row, root));
    const widths = HEADERS.map((h, i) => Math.max(h.length, ...table.map((c) => c[i]!.length)));
    const line = (c: readonly string[]): string => `  ${c.map((text, i) => (i === c.length - 1 ? text : pad(text, widths[i]!))).join('  ')}`;
    lines.push(line(HEADERS));
    rows.forEach((row, i) => {
      lines.push(line(table[i]!));
      if (row.advice !== null) {
        const call = row.advice.call === null ? '' : `${row.advice.call}: `;
        lines.push(`  ${' '.repeat(widths[0]!)}  advice: ${call}${row.advice.fix} (${row.advice.docs})`);
      }
    });
  }
  for (const note of summary.warmupOver) {
    lines.push(`${who}: note: ${note.method} ${note.route} took ${formatMs(note.worstMs)} on its warm-up request only (not judged; request it again, or lower the warm-up)`);
  }
  return lines.join('\n');
}
