/**
 * A test run with a loop budget (LOOPGUARD_BUDGET_MS with the zero-code
 * start). Test runners start processes of their own (node --test one per
 * file, Jest and Vitest their workers), and each of them loads the zero-code
 * start again. The first process is the run's: it gives the others a
 * directory (LOOPGUARD_BUDGET_RUN, inherited through the environment), they
 * write their summaries there, and at its exit it prints one verdict for all
 * of them to stderr and sets the exit code. stdout is never written: it may be
 * a TAP stream.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoopGuard } from '../create-guard';
import type { BudgetRunConfig } from './budget-config';
import { BudgetRecorder } from './recorder';
import { offerHost } from './host';
import { mergeSummaries, type BudgetSummary } from './ledger';
import { formatBudget } from './table';

/** A process's summary is rewritten at most this often while it runs (and once more at exit). */
const WRITE_EVERY_MS = 200;

/**
 * `guard` undefined: this process only runs other processes (node --test's
 * runner, which serves no request and whose --require reaches every file).
 */
export function startBudgetRun(guard: LoopGuard | undefined, config: BudgetRunConfig): void {
  const recorder = guard === undefined ? undefined : new BudgetRecorder(guard, config);
  if (recorder !== undefined) offerHost(recorder);
  if (config.runDir === undefined) leadRun(recorder, config);
  else if (recorder !== undefined) contribute(recorder, config.runDir);
}

/** node --test's own process: it starts one process per test file and runs no test code itself. */
export function isTestRunnerProcess(): boolean {
  return process.execArgv.includes('--test') && process.env.NODE_TEST_CONTEXT === undefined;
}

function leadRun(recorder: BudgetRecorder | undefined, config: BudgetRunConfig): void {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'loopguard-budget-'));
    process.env.LOOPGUARD_BUDGET_RUN = dir;
  } catch (err) {
    writeSync(2, `loopguard: the loop budget covers this process only: ${(err as Error)?.message ?? err}\n`);
  }
  process.once('exit', () => {
    try {
      const own = recorder === undefined ? [] : [recorder.ledger.summary()];
      const summaries = [...own, ...(dir === undefined ? [] : readSummaries(dir))];
      const verdict = mergeSummaries(config.budgetMs, summaries);
      // fd 2 directly: synchronous whatever stderr is, and nothing can land on stdout.
      writeSync(2, `${formatBudget(verdict, process.cwd())}\n`);
      if (verdict.rows.length > 0 && (process.exitCode === undefined || process.exitCode === 0 || process.exitCode === '0')) {
        process.exitCode = 1;
      }
    } catch (err) {
      writeSync(2, `loopguard: the loop budget could not be judged: ${(err as Error)?.message ?? err}\n`);
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });
}

function readSummaries(dir: string): BudgetSummary[] {
  const out: BudgetSummary[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as BudgetSummary);
    } catch {
      // A process killed while writing: its last complete summary was renamed into place, this is a leftover.
    }
  }
  return out;
}

/**
 * Writes this process's summary whenever it changed (throttled), and at exit:
 * some runners end their workers with a signal, and no exit handler runs then.
 */
function contribute(recorder: BudgetRecorder, dir: string): void {
  const file = join(dir, `${process.pid}.json`);
  let timer: NodeJS.Timeout | undefined;
  const write = (): void => {
    timer = undefined;
    try {
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, JSON.stringify(recorder.ledger.summary()));
      renameSync(tmp, file);
    } catch {
      // The run's directory is gone (its first process ended): nobody is left to tell.
    }
  };
  recorder.onChange = () => {
    if (timer !== undefined) return;
    timer = setTimeout(write, WRITE_EVERY_MS);
    timer.unref();
  };
  process.once('exit', () => {
    if (timer !== undefined) clearTimeout(timer);
    write();
  });
}
