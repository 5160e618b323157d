import { run } from './processes.mjs';

/**
 * One bounded wrk run pinned to `core`: one thread, fixed connections.
 * Returns requests/s, total requests, latency percentiles (ms) and errors.
 */
export async function wrk(url, { core, seconds, connections, script, timeoutSeconds = 10 }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, `--timeout`, `${timeoutSeconds}s`, '--latency'];
  if (script) args.push('-s', script);
  args.push(url);
  const out = core === undefined ? await run('wrk', args) : await run('taskset', ['-c', String(core), 'wrk', ...args]);
  return parseWrk(out);
}

const UNITS_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return m ? Number(m[1]) * UNITS_MS[m[2]] : NaN;
}

/** Parses wrk's text report (the format has been stable since wrk 4). */
export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!Number.isFinite(rps) || !Number.isFinite(requests)) throw new Error(`cannot parse wrk output:\n${out}`);
  const latency = {};
  for (const p of ['50', '90', '99']) {
    const m = new RegExp(`^\\s+${p}(?:\\.000)?%\\s+(\\S+)`, 'm').exec(out);
    latency[`p${p}`] = m ? durationMs(m[1]) : NaN;
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, requests, latency, errors, non2xx, raw: out };
}
