// Starting the demo (examples/demo) as a child process, for demo.test.mjs and demo-args.test.mjs.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEMO = 'examples/demo/index.mjs';

/** Starts the demo; resolves `lines` as they arrive and `exit` with the code and all output. */
export function startDemo(args) {
  const [tagName, tagValue] = RUN_TAG.split('=');
  const child = spawn(process.execPath, [DEMO, '--port', '0', ...args], { cwd: ROOT, env: { ...process.env, [tagName]: tagValue }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = [];
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    for (const w of [...waiters]) {
      const m = w.pattern.exec(stdout);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  // A failure guard, not a synchronisation: the demo must end by itself well before this.
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exit = once(child, 'exit').then(([code, signal]) => {
    clearTimeout(killer);
    for (const w of waiters) w.reject(new Error(`demo exited before printing ${w.pattern}; output:\n${stdout}\n${stderr}`));
    return { code, signal, stdout, stderr };
  });
  const waitForOutput = (pattern) =>
    new Promise((resolve, reject) => {
      const m = pattern.exec(stdout);
      if (m) return resolve(m);
      waiters.push({ pattern, resolve, reject });
    });
  return { child, exit, waitForOutput };
}

/**
 * Every demo this file starts carries this tag in its environment, which its
 * forked load generator inherits: other demos on the machine (another
 * engineer's test run) are not ours to count.
 */
export const RUN_TAG = `LOOPGUARD_DEMO_TEST_RUN=${randomUUID()}`;

