// The system programs the suite runs for real, in one place: the test setup
// (scripts/test-setup.mjs) installs them, the tests read their paths here.
// Each path can be pointed elsewhere by an environment variable, for machines
// where they do not come from Debian packages.
import fs from 'node:fs';

/** @type {{ name: string, env: string, path: string, debianPath: string, debianPackage: string, usedFor: string }[]} */
export const SYSTEM_TOOLS = [
  tool('prometheus', 'PROMETHEUS_BIN', '/usr/bin/prometheus', 'prometheus', 'a real Prometheus server scraping loopguard'),
  tool('promtool', 'PROMTOOL_BIN', '/usr/bin/promtool', 'prometheus', 'promtool check metrics / rules / unit tests'),
  tool('chromium', 'CHROMIUM_BIN', '/usr/bin/chromium', 'chromium', 'headless browser for the live page'),
  tool('script', 'SCRIPT_BIN', '/usr/bin/script', 'bsdutils', "script(1): a pseudo-terminal for the demo's terminal test"),
];

function tool(name, env, debianPath, debianPackage, usedFor) {
  return { name, env, path: process.env[env] || debianPath, debianPath, debianPackage, usedFor };
}

export function toolPath(name) {
  const found = SYSTEM_TOOLS.find((t) => t.name === name);
  if (!found) throw new Error(`unknown system tool ${name}`);
  return found.path;
}

/** The tools whose executable is not there. */
export function missingTools() {
  return SYSTEM_TOOLS.filter((t) => !isExecutable(t.path));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
