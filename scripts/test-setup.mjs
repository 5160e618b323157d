#!/usr/bin/env node
// `npm test`'s setup step (the `pretest` script): the suite runs a real
// Prometheus, promtool and a headless Chromium, so a fresh machine gets them
// here instead of from a README paragraph. As root on Debian/Ubuntu it installs
// the missing Debian packages; anywhere else it stops with the one command to
// run, so no test is ever skipped because a program is absent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SYSTEM_TOOLS, missingTools } from '../test/helpers/system-tools.mjs';

const LOCK_FILE = '/tmp/loopguard-test-setup.lock';
const SELF = fileURLToPath(import.meta.url);

main();

function main() {
  const missing = missingTools();
  if (missing.length === 0) return;

  // A path set by environment variable is the user's own choice: installing a
  // Debian package would put the program somewhere else and fix nothing.
  const custom = missing.filter((t) => t.path !== t.debianPath);
  if (custom.length > 0) {
    stop(custom.map((t) => `${t.env}=${t.path}: no executable there (${t.usedFor})`), 'point it at an installed executable, or unset it');
  }

  const packages = [...new Set(missing.map((t) => t.debianPackage))];
  const aptCommand = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const canInstall = process.getuid?.() === 0 && fs.existsSync('/etc/debian_version') && onPath('apt-get');
  if (!canInstall) {
    const reason = missing.map((t) => `${t.name} (${t.usedFor}) not found at ${t.path}`);
    if (fs.existsSync('/etc/debian_version')) stop(reason, `sudo sh -c '${aptCommand}'`);
    stop(reason, `install Prometheus (prometheus, promtool) and Chromium, then set ${missing.map((t) => t.env).join(', ')} to their paths`);
  }

  // Several `npm test` runs may start at once on a fresh machine (worktrees,
  // CI shards): one installs, the others wait and then find everything there.
  if (process.argv[2] !== '--locked' && onPath('flock')) {
    const locked = spawnSync('flock', ['-w', '1800', LOCK_FILE, process.execPath, SELF, '--locked'], { stdio: 'inherit' });
    process.exit(locked.status ?? 1);
  }
  install(packages);
}

function install(packages) {
  const started = Date.now();
  console.log(`test-setup: installing Debian packages ${packages.join(', ')} for the suite (${missingTools().map((t) => t.name).join(', ')} missing)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], env);
  const updatedS = seconds(started);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], env);
  const stillMissing = missingTools();
  if (stillMissing.length > 0) stop(stillMissing.map((t) => `${t.name} still not at ${t.path} after installing ${t.debianPackage}`), 'check the apt output above');
  for (const t of SYSTEM_TOOLS) {
    // A program that is there but cannot start (missing libraries) would fail
    // deep inside a test; say so here.
    const version = spawnSync(t.path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
    if (version.status !== 0) stop([`${t.path} --version failed: ${version.error?.message ?? version.stderr}`], 'check the apt output above');
    console.log(`test-setup: ${t.name}: ${firstLine(version.stdout || version.stderr)}`);
  }
  console.log(`test-setup: done in ${seconds(started)} s (apt-get update ${updatedS} s)`);
}

function run(command, args, env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) stop([`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`], 'fix apt, then run npm test again');
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function stop(reasons, todo) {
  console.error(`test-setup: npm test needs programs this machine lacks:\n${reasons.map((r) => `  - ${r}`).join('\n')}\nRun:\n  ${todo}`);
  process.exit(1);
}

function seconds(since) {
  return ((Date.now() - since) / 1000).toFixed(1);
}

function firstLine(text) {
  return text.trim().split('\n')[0];
}
