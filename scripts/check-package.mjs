#!/usr/bin/env node
// `npm test`'s package check (before the suite): the published package's types
// and module formats, for every subpath. arethetypeswrong (node10, node16
// from CJS and from ESM, bundler) and publint must report nothing at all, not
// even a suggestion. Both are dev dependencies: nothing is downloaded here.
// It reads package.json and the packed files only, so it runs once, not once
// per Node line.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const problems = [];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-pack-'));
try {
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT });
  const tarball = path.join(dir, JSON.parse(packed)[0].filename);
  let stdout;
  try {
    ({ stdout } = await run(path.join(ROOT, 'node_modules', '.bin', 'attw'), [tarball, '--format', 'json'], { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 }));
  } catch (err) {
    // attw exits 1 when it finds problems; its JSON still says which.
    stdout = err.stdout;
  }
  const { analysis } = JSON.parse(stdout);
  for (const problem of analysis.problems) problems.push(`arethetypeswrong: ${problem.kind} ${JSON.stringify(problem)}`);
  const expected = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports);
  const checked = Object.keys(analysis.entrypoints);
  for (const entry of expected) if (!checked.includes(entry)) problems.push(`arethetypeswrong did not check ${entry}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const { messages } = await publint({ pkgDir: ROOT, level: 'suggestion', strict: true, pack: 'npm' });
for (const m of messages) problems.push(`publint ${m.type}: ${m.code} at ${m.path.join('.')} ${JSON.stringify(m.args)}`);

if (problems.length > 0) {
  console.error(`check-package: ${problems.length} problem(s) in the package's types or module formats:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('check-package: arethetypeswrong and publint report nothing for any subpath');
