// The suite as CI runs it on each further Node line (22, 24, 26): every test
// file except those whose subject does not depend on the Node line running
// them. Those ran once already, in `npm test` on the machine's Node; running
// them three more times would push CI past its time budget for nothing.
// The list is printed, so nothing is left out silently.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** File → why its verdict is the same on every Node line. */
export const LINE_INDEPENDENT = {
  'architecture.test.mjs': 'reads the TypeScript import graph',
  'ci-run.test.mjs': 'reads .ci/run',
  'test-setup.test.mjs': "checks the test setup's system programs",
  'grafana-generated.test.mjs': 'compares generated JSON and YAML',
  'grafana-promtool.test.mjs': "promtool's checks of the rules and queries",
  'grafana-prometheus.test.mjs': "a real Prometheus evaluating the dashboard's queries",
  'package-types.test.mjs': "TypeScript's resolution of the packed tarball",
  'package-prom-clients.test.mjs': "npm installs of the tarball: which client is chosen",
  'package-fastify.test.mjs': 'npm install of the tarball with fastify only',
  'otel-newest-line.test.mjs': 'runs on Node 24 from the registry whatever Node starts it',
};

const files = fs
  .readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.mjs') && !(f in LINE_INDEPENDENT))
  .sort()
  .map((f) => path.join('test', f));
process.stderr.write(
  `line suite on Node ${process.version}: ${files.length} test files; ran once in npm test, not again here:\n` +
    Object.entries(LINE_INDEPENDENT)
      .map(([f, why]) => `  ${f} (${why})`)
      .join('\n') +
    '\n  bench/test/ (the benchmark statistics: pure arithmetic)\n',
);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: root, stdio: 'inherit' });
process.exitCode = result.status ?? 1;
