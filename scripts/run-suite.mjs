// Runs the test suite once, as `node --test --test-concurrency=1`, over every
// test file (`--lines`: less the line-independent ones, for CI's further Node
// lines; see LINE_INDEPENDENT).
//
// The scenario files below measure real stalls of a real event loop on two
// shared cores: a machine busy with something else can cost one of their
// tests its capture. When the run fails only in such files, each of them (at
// most MAX_RETRIED_FILES) is run once more, alone, and a pass is printed as
// `FLAKY: <file>: <the tests that failed first>`, so the first failure stays
// in the log. A failure anywhere else, a second failure, a file that crashed
// (a signal such as an abort, or an exit no failed test explains: never a
// flake), or more failing files than that, fails the run: a real regression
// fails every time. The failed files are named by the file that was run
// (suite-files-reporter.mjs), so a Prometheus twin's failure retries the twin.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** File → why its verdict is the same on every Node line (it ran once, in `npm test`). */
export const LINE_INDEPENDENT = {
  'architecture.test.mjs': 'reads the TypeScript import graph',
  'ci-run.test.mjs': 'reads .ci/run',
  'test-setup.test.mjs': "checks the test setup's system programs",
  'grafana-generated.test.mjs': 'compares generated JSON and YAML',
  'grafana-promtool.test.mjs': "promtool's checks of the rules and queries",
  'grafana-prometheus.test.mjs': "a real Prometheus evaluating the dashboard's queries",
  'package-types.test.mjs': "TypeScript's resolution of the packed tarball",
  'package-prom-clients.test.mjs': 'npm installs of the tarball: which client is chosen',
  'package-fastify.test.mjs': 'npm install of the tarball with fastify only',
  'otel-newest-line.test.mjs': 'runs on Node 24 from the registry whatever Node starts it',
  'quickstart.test.mjs': 'npm install of the tarball: the README quick start and an example in a project of their own',
  'docs-links.test.mjs': 'reads the docs, the alert rules and the dashboard',
};

/**
 * File → why it runs only once, in `npm test`, although its figures depend on
 * the Node line: its one test is a todo whose verdict counts nowhere, and it
 * takes a minute a line.
 */
export const ONCE_ONLY = {};

/**
 * Scenario files whose tests wait for real stalls on a real loop (timing on
 * shared cores), and nothing else: a test with no timing in it (a byte-for-byte
 * response, an argument check) lives in a file of its own, off this list, so a
 * failure that shows one time in two is never retried away.
 */
export const TIMING_SCENARIOS = new Set([
  'express-attribution.test.mjs',
  'adapters-attribution.test.mjs',
  'idle-pace.test.mjs',
  'options-production-stalls.test.mjs',
  'register-zero-code.test.mjs',
  'after-response.test.mjs',
  'advice-scenarios.test.mjs',
  'expected-express.test.mjs',
  'busy-scenario.test.mjs',
  'pool-scenario.test.mjs',
  'budget-runners.test.mjs',
  'otel-traces.test.mjs',
  'otel-helper-otlp.test.mjs',
  'reliability-watchdog.test.mjs',
  'reliability-faults-stall.test.mjs',
  'core-guard-stalls.test.mjs',
  'adapters-precise.test.mjs',
  'view-page.test.mjs',
  'prometheus-metrics-server-stalls.test.mjs',
  'prometheus-metrics-server-stalls.prometheus-io.test.mjs',
  'shed-express.test.mjs',
  'shed-adapters.test.mjs',
  'demo.test.mjs',
  'demo-examples.test.mjs',
  'prometheus-cluster.test.mjs',
  'prometheus-cluster.prometheus-io.test.mjs',
  'prometheus-server.test.mjs',
  'prometheus-server.prometheus-io.test.mjs',
]);

/** More failing files than this is not bad luck. */
export const MAX_RETRIED_FILES = 3;

const SUMMARY_REPORTER = path.join(root, 'scripts', 'suite-summary-reporter.mjs');
const FILES_REPORTER = path.join(root, 'scripts', 'suite-files-reporter.mjs');

/**
 * Runs the files; the TAP goes to stdout, the failed files as run (suite-files-reporter.mjs)
 * to `failedFile`, the summary (suite-summary-reporter.mjs) to `summaryFile`.
 */
function runTests(files, failedFile, summaryFile) {
  const args = ['--test', '--test-concurrency=1', '--test-reporter=tap', '--test-reporter-destination=stdout'];
  if (failedFile) args.push(`--test-reporter=${FILES_REPORTER}`, `--test-reporter-destination=${failedFile}`);
  if (summaryFile) args.push(`--test-reporter=${SUMMARY_REPORTER}`, `--test-reporter-destination=${summaryFile}`);
  return spawnSync(process.execPath, [...args, ...files], { cwd: root, stdio: 'inherit' }).status ?? 1;
}

/** Prints a run's summary: last in the log, after any retry, so a truncated log still shows it. */
function printSummary(label, summaryFile) {
  if (!fs.existsSync(summaryFile)) return;
  process.stdout.write(`\n${label}\n${fs.readFileSync(summaryFile, 'utf8')}`);
}

function main() {
  const lines = process.argv.includes('--lines');
  let files = fs.readdirSync(path.join(root, 'test')).filter((f) => f.endsWith('.test.mjs'));
  if (lines) {
    const once = { ...LINE_INDEPENDENT, ...ONCE_ONLY };
    files = files.filter((f) => !(f in once));
    process.stderr.write(
      `suite on Node ${process.version}: ${files.length} test files; ran once in npm test, not again here:\n` +
        Object.entries(once)
          .map(([f, why]) => `  test/${f} (${why})\n`)
          .join('') +
        '  bench/test/ (the benchmark statistics: pure arithmetic)\n',
    );
  }
  const paths = files.sort().map((f) => path.join('test', f));
  if (!lines) paths.push(...fs.readdirSync(path.join(root, 'bench/test')).filter((f) => f.endsWith('.test.mjs')).map((f) => path.join('bench/test', f)));
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-suite-'));
  const failedFile = path.join(reports, 'failed.jsonl');
  const summaryFile = path.join(reports, 'summary.txt');
  const status = retryTimingFailures(runTests(paths, failedFile, summaryFile), failedFile, reports);
  printSummary(`suite on Node ${process.version}, first run:`, summaryFile);
  return status;
}

/** The failed files that suite-files-reporter.mjs wrote, each named by the file that was run. */
function readFailedFiles(failedFile) {
  if (!fs.existsSync(failedFile)) return [];
  return fs.readFileSync(failedFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/**
 * Whether a failed run earns one retry of its failed files, and why not: only
 * failed tests in timing-scenario files, never a crash, at most MAX_RETRIED_FILES files.
 */
export function retryVerdict(failed, { firstStatus = 1 } = {}) {
  if (failed.length === 0) return { retry: false, why: firstStatus === 0 ? 'passed' : 'no test file named' };
  const names = failed.map((f) => path.basename(f.file));
  const crashed = failed.filter((f) => f.crashed).map((f) => `${path.basename(f.file)} (${f.signal ?? `exit code ${f.exitCode ?? 'unknown'}`})`);
  if (crashed.length > 0) return { retry: false, why: `${names.join(', ')}; crashed, never a flake: ${crashed.join(', ')}` };
  const others = names.filter((f) => !TIMING_SCENARIOS.has(f));
  if (others.length > 0) return { retry: false, why: `${names.join(', ')}; not timing scenarios: ${others.join(', ')}` };
  if (failed.length > MAX_RETRIED_FILES) return { retry: false, why: `${names.join(', ')}; more than ${MAX_RETRIED_FILES} files` };
  return { retry: true, why: names.join(', ') };
}

/** After a failed run: a bounded second chance for timing scenarios (see the header); the run's final status. */
function retryTimingFailures(firstStatus, failedFile, reports) {
  if (firstStatus === 0) return 0;
  const failed = readFailedFiles(failedFile);
  const verdict = retryVerdict(failed, { firstStatus });
  if (!verdict.retry) {
    process.stderr.write(`suite: FAILED (${verdict.why})\n`);
    return 1;
  }
  let status = 0;
  for (const { file, tests } of failed) {
    const relative = path.relative(root, file);
    process.stderr.write(`suite: ${relative} failed (${tests.join('; ')}); running it once more, alone\n`);
    const retrySummary = path.join(reports, `retry-${path.basename(file)}.txt`);
    if (runTests([relative], undefined, retrySummary) === 0) {
      process.stdout.write(`FLAKY: ${relative}: ${tests.join('; ')} failed, then passed alone\n`);
    } else {
      process.stderr.write(`suite: ${relative} failed again: FAILED\n`);
      printSummary(`suite: ${relative} run again alone:`, retrySummary);
      status = 1;
    }
  }
  return status;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main();
