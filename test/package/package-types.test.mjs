// Types and module formats of the published package, for every subpath
// (arethetypeswrong and publint run before the suite: scripts/check-package.mjs).
// From the packed tarball, TypeScript finds the types with node16 (ESM and
// CJS files) and bundler resolution; `import` and
// `require` give the very same module instance (one guard class, one
// registry, one request store: the package is CommonJS only, so there is no
// second copy to load).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, packLoopguard, tempProject } from '../helpers/temp-project.mjs';

const run = promisify(execFile);
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const SUBPATHS = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? 'loopguard' : `loopguard/${key.slice(2)}`));
// Importing it starts a guard: checked for types and resolution, not loaded.
const SIDE_EFFECTS = new Set(['loopguard/register']);

let project;

before(async () => {
  project = await tempProject([]);
  const { tarball } = await packLoopguard(project.dir);
  await project.install([tarball]);
});

after(() => project?.close());

test('TypeScript finds every subpath\'s types from the tarball: node16 (ESM and CJS files) and bundler resolution', async () => {
  const imports = SUBPATHS.map((s, i) => `import * as m${i} from '${s}';`).join('\n');
  const uses = `export const all = [${SUBPATHS.map((_, i) => `m${i}`).join(', ')}];`;
  // If the types resolved to `any`, the expected error would not happen and tsc would say so (TS2578).
  const typed = `import { createLoopGuard } from 'loopguard';\n// @ts-expect-error thresholdMs is a number\ncreateLoopGuard({ thresholdMs: 'fast' });\n`;
  project.write('esm.mts', `${imports}\n${typed}${uses}\n`);
  project.write('cjs.cts', `${SUBPATHS.map((s, i) => `import m${i} = require('${s}');`).join('\n')}\n${typed}${uses}\n`);
  project.write('bundled.ts', `${imports}\n${typed}${uses}\n`);
  const common = { strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], target: 'ES2022' };
  project.write('tsconfig.node16.json', JSON.stringify({ compilerOptions: { ...common, module: 'node16', moduleResolution: 'node16' }, files: ['esm.mts', 'cjs.cts'] }));
  project.write('tsconfig.bundler.json', JSON.stringify({ compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler' }, files: ['bundled.ts'] }));
  for (const config of ['tsconfig.node16.json', 'tsconfig.bundler.json']) {
    await run(process.execPath, [TSC, '-p', config], { cwd: project.dir }).catch((err) => assert.fail(`${config}:\n${err.stdout}${err.stderr}`));
  }
});

test('import and require load one and the same module for every subpath: no dual-package copy', async () => {
  const loadable = SUBPATHS.filter((s) => !SIDE_EFFECTS.has(s));
  const file = project.write(
    'same.mjs',
    `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const out = {};
for (const spec of ${JSON.stringify(loadable)}) {
  const esm = await import(spec);
  const cjs = require(spec);
  const names = Object.keys(cjs);
  out[spec] = names.length > 0 && names.every((name) => esm[name] === cjs[name]);
}
console.log(JSON.stringify(out));`,
  );
  const { stdout } = await run(process.execPath, [file], { cwd: project.dir });
  assert.deepEqual(JSON.parse(stdout), Object.fromEntries(loadable.map((s) => [s, true])));
});
