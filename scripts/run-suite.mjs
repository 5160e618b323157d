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
//
// Test files live in kind folders under test/ (test/README.md); the lists
// below name them by their path relative to test/ ('scenarios/idle-pace.test.mjs'),
// and a listed name with no file stops the run before it starts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TEST_DIR = path.join(root, 'test');

/** File → why its verdict is the same on every Node line (it ran once, in `npm test`). */
export const LINE_INDEPENDENT = {
  'package/architecture.test.mjs': 'reads the TypeScript import graph',
  'package/ci-run.test.mjs': 'reads .ci/run',
  'package/test-setup.test.mjs': "checks the test setup's system programs",
  'exporters/grafana-generated.test.mjs': 'compares generated JSON and YAML',
  'exporters/grafana-promtool.test.mjs': "promtool's checks of the rules and queries",
  'exporters/grafana-prometheus.test.mjs': "a real Prometheus evaluating the dashboard's queries",
  'package/package-types.test.mjs': "TypeScript's resolution of the packed tarball",
  'package/package-prom-clients.test.mjs': 'npm installs of the tarball: which client is chosen',
  'package/package-fastify.test.mjs': 'npm install of the tarball with fastify only',
  'package/otel-newest-line.test.mjs': 'runs on Node 24 from the registry whatever Node starts it',
  'package/quickstart.test.mjs': 'npm install of the tarball: the README quick start and an example in a project of their own',
  'package/docs-links.test.mjs': 'reads the docs, the alert rules and the dashboard',
  'package/test-layout.test.mjs': 'reads the test files and package.json',
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
  'scenarios/express-attribution.test.mjs',
  'scenarios/adapters-attribution.test.mjs',
  'scenarios/idle-pace.test.mjs',
  'scenarios/options-production-stalls.test.mjs',
  'scenarios/register-zero-code.test.mjs',
  'scenarios/after-response.test.mjs',
  'scenarios/advice-scenarios.test.mjs',
  'scenarios/expected-express.test.mjs',
  'scenarios/busy-scenario.test.mjs',
  'scenarios/pool-scenario.test.mjs',
  'scenarios/worker-threads.test.mjs',
  'scenarios/worker-pool.test.mjs',
  'scenarios/budget-runners.test.mjs',
  'exporters/otel-traces.test.mjs',
  'exporters/otel-helper-otlp.test.mjs',
  'scenarios/reliability-watchdog.test.mjs',
  'scenarios/reliability-faults-stall.test.mjs',
  'scenarios/core-guard-stalls.test.mjs',
  'scenarios/stall-state.test.mjs',
  'scenarios/adapters-precise.test.mjs',
  'scenarios/view-page.test.mjs',
  'exporters/prometheus-metrics-server-stalls.test.mjs',
  'exporters/prometheus-metrics-server-stalls.prometheus-io.test.mjs',
  'scenarios/shed-express.test.mjs',
  'scenarios/shed-adapters.test.mjs',
  'scenarios/demo.test.mjs',
  'scenarios/demo-examples.test.mjs',
  'exporters/prometheus-cluster.test.mjs',
  'exporters/prometheus-cluster.prometheus-io.test.mjs',
  'exporters/prometheus-server.test.mjs',
  'exporters/prometheus-server.prometheus-io.test.mjs',
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

/** Every test file under test/, by its name in the lists: the path relative to test/, with '/'. */
export function testFiles() {
  return fs
    .readdirSync(TEST_DIR, { recursive: true })
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.test.mjs'))
    .sort();
}

/**
 * A run file's name in the lists. The files reporter gives the path that was
 * run, absolute or relative to the repository root (the runner's cwd).
 */
export function suiteKey(file) {
  return path.relative(TEST_DIR, path.resolve(root, file)).split(path.sep).join('/');
}

/** Names in the lists with no test file under test/: a moved or renamed file the lists did not follow. */
export function listedButMissing(files = testFiles()) {
  const present = new Set(files);
  return [...Object.keys(LINE_INDEPENDENT), ...Object.keys(ONCE_ONLY), ...TIMING_SCENARIOS].filter((f) => !present.has(f));
}

/** Prints a run's summary: last in the log, after any retry, so a truncated log still shows it. */
function printSummary(label, summaryFile) {
  if (!fs.existsSync(summaryFile)) return;
  process.stdout.write(`\n${label}\n${fs.readFileSync(summaryFile, 'utf8')}`);
}

function main() {
  const lines = process.argv.includes('--lines');
  const all = testFiles();
  const missing = listedButMissing(all);
  if (missing.length > 0) {
    process.stderr.write(`suite: scripts/run-suite.mjs lists test files that do not exist under test/: ${missing.join(', ')}\n`);
    return 1;
  }
  let files = all;
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
  const paths = files.map((f) => path.join('test', f));
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
  const names = failed.map((f) => suiteKey(f.file));
  const crashed = failed.filter((f) => f.crashed).map((f) => `${suiteKey(f.file)} (${f.signal ?? `exit code ${f.exitCode ?? 'unknown'}`})`);
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
    const retrySummary = path.join(reports, `retry-${suiteKey(file).replaceAll('/', '-')}.txt`);
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
