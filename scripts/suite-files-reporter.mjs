// A node:test reporter for scripts/run-suite.mjs: one JSON line for each test
// file that was run and failed, named by the file that was run, not by the
// file that defines its tests. The Prometheus twins (`*.prometheus-io.test.mjs`)
// only import their base file, so every test location, in TAP or in a
// reporter's `file`, names the base: a failure only the twin shows would be
// retried under the base and pass. Files run one at a time
// (--test-concurrency=1), so every event between a file's dequeue and its
// completion belongs to it.
//
// A file whose process ended other than by failing tests (a signal, an
// abort, an exit code other than 1, or a failure no test reported) is marked
// `crashed`: the runner never calls that a flake.

/**
 * Folds node:test reporter events into the failed files: `{ file, tests, crashed, signal, exitCode }`
 * for each file that was run and failed, in run order. Pure: tested on recorded events.
 */
export function failedRunFiles(events) {
  const failed = [];
  let current;
  // The file's own test is named by its absolute path on Node 20, by the path as given on the command line on 22+.
  const isFile = (data) =>
    data.nesting === 0 && data.file !== undefined && (data.name === data.file || data.file.endsWith(`/${data.name}`) || data.file.endsWith(`\\${data.name}`));
  for (const { type, data } of events) {
    if (type === 'test:dequeue' && isFile(data)) {
      current = { file: data.file, tests: [] };
      continue;
    }
    if (type === 'test:fail' && current !== undefined && !isFile(data)) {
      const todo = (data.todo !== undefined && data.todo !== false) || (data.skip !== undefined && data.skip !== false);
      if (!todo && data.details?.type !== 'suite') current.tests.push(data.name);
      continue;
    }
    if ((type === 'test:complete' || type === 'test:fail') && isFile(data) && current !== undefined && current.file === data.file) {
      const error = data.details?.error;
      const passed = type === 'test:complete' ? data.details?.passed !== false : false;
      if (!passed) {
        const signal = error?.signal ?? null;
        const exitCode = error?.exitCode ?? null;
        const crashed = signal !== null || (exitCode !== null && exitCode !== 1) || current.tests.length === 0;
        failed.push({ file: current.file, tests: current.tests, crashed, signal, exitCode });
      } else if (current.tests.length > 0) {
        failed.push({ file: current.file, tests: current.tests, crashed: false, signal: null, exitCode: null });
      }
      current = undefined;
    }
  }
  // A file still open when the stream ended: the runner itself died under it.
  if (current !== undefined) failed.push({ file: current.file, tests: current.tests, crashed: true, signal: null, exitCode: null });
  return failed;
}

export default async function* runFiles(source) {
  const events = [];
  for await (const event of source) {
    if (event.type === 'test:dequeue' || event.type === 'test:fail' || event.type === 'test:complete') {
      const { name, file, nesting, todo, skip, details } = event.data;
      const error = details?.error;
      events.push({
        type: event.type,
        data: { name, file, nesting, todo, skip, details: details && { passed: details.passed, type: details.type, error: error && { signal: error.signal ?? null, exitCode: error.exitCode ?? null } } },
      });
    }
  }
  for (const f of failedRunFiles(events)) yield `${JSON.stringify(f)}\n`;
}
