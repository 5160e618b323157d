// A throwaway npm project under the OS temp dir, for tests that install
// loopguard the way a user does: from its packed tarball (`npm pack`), with
// only the packages the user would add. Installs go through the ordinary npm
// client and its cache (`--prefer-offline`), so a warm machine installs in
// seconds; nothing is written outside the temp dir and the cache.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** The version range this repo tests a dev dependency at, so temp projects install what the suite knows. */
export function devRange(name) {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const range = pkg.devDependencies?.[name];
  if (range === undefined) throw new Error(`${name} is not a dev dependency`);
  return range.startsWith('npm:') ? range : `${name}@${range}`;
}

async function npm(args, cwd) {
  try {
    return await run('npm', args, { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (err) {
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }
}

/** Packs the built package (dist/ must be current) into dir; returns the tarball's path and its file list. */
export async function packLoopguard(dir) {
  const { stdout } = await npm(['pack', '--json', '--pack-destination', dir, ...NPM_FLAGS], ROOT);
  const [info] = JSON.parse(stdout);
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * An empty ESM project with `specs` installed (tarball paths or `name@range`).
 * `close()` removes it.
 */
export async function tempProject(specs, { prefix = 'loopguard-project-' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'loopguard-user-app', private: true, type: 'module' }, null, 2));
  const project = {
    dir,
    /** The installed package's package.json, or undefined. */
    installed(name) {
      const file = path.join(dir, 'node_modules', name, 'package.json');
      return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
    },
    write(file, text) {
      fs.writeFileSync(path.join(dir, file), text);
      return path.join(dir, file);
    },
    install: (more) => npm(['install', ...NPM_FLAGS, ...more], dir),
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  if (specs.length > 0) await project.install(specs);
  return project;
}
