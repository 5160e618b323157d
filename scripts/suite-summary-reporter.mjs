// A node:test reporter that writes what a CI log's reader needs last: how
// long each test file took (the slowest first) and, for every failed test,
// its file and the first lines of its error. scripts/run-suite.mjs prints it
// at the very end of the run, after any retry, where a truncated log still
// shows it.
//
// Files run one at a time (--test-concurrency=1), so a file's time is the
// time from the previous file's last event to its own last one: process
// start and before/after hooks included.
import path from 'node:path';

const ERROR_LINES = 14;
const SLOWEST = 12;

/** The error a failing test threw (node:test wraps it in ERR_TEST_FAILURE). */
function errorText(details) {
  const error = details?.error;
  if (error === undefined || error === null) return 'no error recorded';
  const cause = error.code === 'ERR_TEST_FAILURE' && error.cause !== undefined ? error.cause : error;
  const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  const lines = text.split('\n');
  return lines.slice(0, ERROR_LINES).join('\n') + (lines.length > ERROR_LINES ? `\n… ${lines.length - ERROR_LINES} more lines` : '');
}

export default async function* summary(source) {
  const root = process.cwd();
  const files = new Map();
  const failures = [];
  let last = Date.now();
  const started = last;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const now = Date.now();
    const file = event.data.file === undefined ? '(unknown file)' : path.relative(root, event.data.file);
    // The previous event ended the previous file's time, or this file's: it began then.
    files.set(file, (files.get(file) ?? 0) + (now - last));
    last = now;
    const todo = event.data.todo !== undefined && event.data.todo !== false;
    if (event.type === 'test:fail' && !todo && event.data.details?.type !== 'suite') {
      failures.push({ file, name: event.data.name, error: errorText(event.data.details) });
    }
  }
  const seconds = (ms) => (ms / 1000).toFixed(1);
  const byTime = [...files].sort((a, b) => b[1] - a[1]);
  // A test counts under the file that defines it: the Prometheus twins import theirs.
  yield `suite summary: ${seconds(Date.now() - started)} s, tests defined in ${files.size} files; the slowest:\n`;
  for (const [file, ms] of byTime.slice(0, SLOWEST)) yield `  ${seconds(ms).padStart(6)} s  ${file}\n`;
  if (failures.length === 0) {
    yield 'suite summary: no test failed\n';
    return;
  }
  yield `suite summary: ${failures.length} failed test${failures.length === 1 ? '' : 's'}:\n`;
  for (const f of failures) {
    yield `- ${f.file}: ${f.name}\n${f.error.replace(/^/gm, '    ')}\n`;
  }
}
