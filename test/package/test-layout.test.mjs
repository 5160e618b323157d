// Where tests live and how they reach the code (test/README.md): every test
// file in a kind folder, and internals only through dist/internal.js, so the
// src/ folders can move without touching a test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEST_DIR = path.join(ROOT, 'test');
const KINDS = ['unit', 'scenarios', 'exporters', 'package'];
const SUPPORT = ['helpers', 'fixtures'];

const files = fs
  .readdirSync(TEST_DIR, { recursive: true })
  .map((f) => f.split(path.sep).join('/'))
  .filter((f) => /\.(mjs|cjs|js)$/.test(f));

/** dist/ files a test may load: the one door to internals, and what package.json exports. */
function allowedDist() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const allowed = new Set(['dist/internal.js']);
  for (const entry of Object.values(pkg.exports)) {
    for (const target of typeof entry === 'string' ? [entry] : Object.values(entry)) {
      if (target.startsWith('./dist/') && target.endsWith('.js')) allowed.add(target.slice(2));
    }
  }
  return allowed;
}

/**
 * Every dist/ file a source text names by a relative path or from the
 * repository root ('../../dist/x.js', './dist/x.js' in a spawned script,
 * 'dist/x.js'): imports, dynamic imports, `new URL`s and scripts alike.
 */
function distPaths(text) {
  return [...text.matchAll(/(?:(?<=['"`])|(?:\.{1,2}\/)+)dist\/([\w./-]+?\.[cm]?js)\b/g)].map((m) => `dist/${m[1]}`);
}

test('every test file is in a kind folder that test/README.md describes', () => {
  const loose = files.filter((f) => f.endsWith('.test.mjs') && !KINDS.includes(f.split('/')[0]));
  assert.deepEqual(loose, [], `test files outside ${KINDS.join(', ')}`);
  const stray = files.filter((f) => !f.endsWith('.test.mjs') && !SUPPORT.includes(f.split('/')[0]));
  assert.deepEqual(stray, [], `helpers and fixtures belong in ${SUPPORT.join(' or ')}`);
  const readme = fs.readFileSync(path.join(TEST_DIR, 'README.md'), 'utf8');
  for (const kind of [...KINDS, ...SUPPORT]) assert.match(readme, new RegExp(`\`test/${kind}/\``), `README names test/${kind}/`);
  for (const kind of KINDS) assert.ok(files.some((f) => f.startsWith(`${kind}/`) && f.endsWith('.test.mjs')), `${kind}/ holds tests`);
});

test('tests, helpers and fixtures reach dist/ only through internal.js and the public entry points', () => {
  const allowed = allowedDist();
  assert.ok(allowed.has('dist/index.js') && allowed.has('dist/adapters/express.js'), [...allowed].join(', '));
  const deep = [];
  let seen = 0;
  // This file's own samples of deep paths are the positive control below.
  for (const file of files.filter((f) => f !== 'package/test-layout.test.mjs')) {
    for (const p of distPaths(fs.readFileSync(path.join(TEST_DIR, file), 'utf8'))) {
      seen++;
      if (!allowed.has(p)) deep.push(`test/${file}: ${p}`);
    }
  }
  assert.ok(seen > 20, `the check sees the tests' dist/ imports (${seen})`);
  assert.deepEqual(deep, [], 'deep dist/ paths: export what the test needs from src/internal.ts instead');
});

test('positive control: the check finds deep paths in every form a test has used', () => {
  const forms = [
    "import { RouteTable } from '../../dist/core/routes.js';",
    "const { Shedder } = await import('../dist/shed/shedder.js');",
    "const url = new URL('../../dist/watchdog/main-loop-state.js', import.meta.url).href;",
    "import { findHost } from './dist/test/host.js';",
    "require('dist/core/histogram.js')",
  ];
  assert.deepEqual(forms.map((f) => distPaths(f)[0]), ['dist/core/routes.js', 'dist/shed/shedder.js', 'dist/watchdog/main-loop-state.js', 'dist/test/host.js', 'dist/core/histogram.js']);
  // Not a path into our dist/: another package's, or the Grafana generator's build.
  assert.deepEqual(distPaths("'/srv/app/node_modules/bcryptjs/dist/bcrypt.js' '../../dist-grafana/grafana/src/index.js'"), []);
});
