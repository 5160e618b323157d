import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const dist = (p) => here(`../../dist/${p}`);

/**
 * The servers a variant can run on, and what each needs. A variant whose
 * `requires` file is missing (an adapter not written yet) is skipped with a
 * note. Adding a framework: a server file taking the variant as argv[2],
 * one entry in SERVERS, its baseline and variants below.
 */
export const SERVERS = {
  express: { file: here('../servers/express.mjs') },
  fastify: { file: here('../servers/fastify.mjs') },
};

/** Each comparison is measured as alternating pairs against its baseline. */
export const BASELINES = {
  express: { server: 'express', arg: 'bare', label: 'Express 5 bare' },
  fastify: { server: 'fastify', arg: 'bare', label: 'Fastify 5 bare' },
  /** For what comes on top of loopguard (a watched worker thread). */
  'express-lg-plainworker': { server: 'express', arg: 'lg-plainworker', label: 'Express 5 + loopguard + an unwatched idle worker' },
};

export const VARIANTS = [
  // The controls: bare against bare, one per baseline. Their spread is the noise floor of this run; a target is only met if it clears it.
  { name: 'aa', baseline: 'express', arg: 'bare', label: 'Express bare again (A/A control)', group: 'control', control: true },
  { name: 'fastify-aa', baseline: 'fastify', arg: 'bare', label: 'Fastify bare again (A/A control)', group: 'control', control: true },
  { name: 'plainworker-aa', baseline: 'express-lg-plainworker', arg: 'lg-plainworker', label: 'loopguard + unwatched worker again (A/A control)', group: 'control', control: true },
  { name: 'loopguard', baseline: 'express', arg: 'loopguard', label: 'loopguard (default)', target: 0.97, group: 'main' },
  // Busy-time sampling off, beside the default (on): the difference is the sampling's cost.
  { name: 'nobusy', baseline: 'express', arg: 'nobusy', label: 'loopguard busySampleHz: 0 (sampling off)', group: 'main' },
  { name: 'precise', baseline: 'express', arg: 'precise', label: 'loopguard precise: true', target: 0.9, group: 'main' },
  { name: 'prom-bundle', baseline: 'express', arg: 'prom-bundle', label: 'express-prom-bundle (method+path)', group: 'main' },
  { name: 'fastify-loopguard', baseline: 'fastify', arg: 'loopguard', label: 'loopguard/fastify (default)', target: 0.95, group: 'main', requires: dist('adapters/fastify.js') },
  // The request-path ladder (--ladder): bare, then node:http's channels, a record, a context, then loopguard with its parts off and on.
  { name: 'ch-empty', baseline: 'express', arg: 'ch-empty', label: 'ladder: start/finish channels, empty subscribers', group: 'ladder' },
  { name: 'ch-enter', baseline: 'express', arg: 'ch-enter', label: 'ladder: + enterWith(a constant)', group: 'ladder' },
  { name: 'ch-record', baseline: 'express', arg: 'ch-record', label: 'ladder: channels + a record on res (no ALS)', group: 'ladder' },
  { name: 'ch-record-als', baseline: 'express', arg: 'ch-record-als', label: 'ladder: + the record entered with enterWith', group: 'ladder' },
  { name: 'wrap-run', baseline: 'express', arg: 'wrap-run', label: 'alternative: the app wrapped, a record per request in AsyncLocalStorage.run', group: 'ladder' },
  { name: 'wrap-socket', baseline: 'express', arg: 'wrap-socket', label: 'alternative: one context per connection, a field set per request', group: 'ladder' },
  { name: 'lg-bare', baseline: 'express', arg: 'lg-bare', label: 'ladder: loopguard, every optional part off', group: 'ladder' },
  { name: 'lg-worker', baseline: 'express-lg-plainworker', arg: 'lg-worker', label: 'loopguard + one watched idle worker (vs the same worker unwatched)', group: 'diag' },
  { name: 'ladder-nobusy', baseline: 'express', arg: 'nobusy', label: 'ladder: loopguard, busy sampling off', group: 'ladder' },
  { name: 'ladder-loopguard', baseline: 'express', arg: 'loopguard', label: 'ladder: loopguard (default)', group: 'ladder' },
  { name: 'fastify-ch-empty', baseline: 'fastify', arg: 'ch-empty', label: 'ladder: Fastify, start/finish channels, empty subscribers', group: 'ladder' },
  { name: 'fastify-hook-empty', baseline: 'fastify', arg: 'hook-empty', label: 'ladder: Fastify, one empty onRequest hook', group: 'ladder' },
  { name: 'fastify-ch-record-als', baseline: 'fastify', arg: 'ch-record-als', label: 'ladder: Fastify, channels + a record entered with enterWith', group: 'ladder' },
  { name: 'fastify-ladder-loopguard', baseline: 'fastify', arg: 'loopguard', label: 'ladder: loopguard/fastify (default)', group: 'ladder' },
  { name: 'fastify-lg-bare', baseline: 'fastify', arg: 'lg-bare', label: 'ladder: loopguard/fastify, every optional part off', group: 'ladder' },
  { name: 'fastify-lg-nobusy', baseline: 'fastify', arg: 'lg-nobusy', label: 'loopguard/fastify, busy sampling off', group: 'diag' },
  { name: 'fastify-lg-nocapture', baseline: 'fastify', arg: 'lg-nocapture', label: 'loopguard/fastify, captureStacks off', group: 'diag' },
  { name: 'fastify-lg-noexport', baseline: 'fastify', arg: 'lg-noexport', label: 'loopguard/fastify, Prometheus and OTel off', group: 'diag' },
  // Diagnostics (--diag): each isolates one piece of the per-request or background cost.
  { name: 'noop', baseline: 'express', arg: 'noop', label: 'an empty middleware (Express layer cost)', group: 'diag' },
  { name: 'http-wrap', baseline: 'express', arg: 'http-wrap', label: 'loopguard/http wrapping the app', group: 'diag', requires: dist('adapters/http.js') },
  { name: 'als-only', baseline: 'express', arg: 'als-only', label: 'AsyncLocalStorage.run only', group: 'diag' },
  { name: 'close-only', baseline: 'express', arg: 'close-only', label: "res.on('close') only", group: 'diag' },
  { name: 'gc-observer', baseline: 'express', arg: 'gc-observer', label: "PerformanceObserver('gc') only", group: 'diag' },
  { name: 'eld', baseline: 'express', arg: 'eld', label: 'monitorEventLoopDelay(20 ms) only', group: 'diag' },
  { name: 'timer-20ms', baseline: 'express', arg: 'timer-20ms', label: 'a 20 ms timer only', group: 'diag' },
  { name: 'eld-spi', baseline: 'express', arg: 'eld-spi', label: 'monitorEventLoopDelay per iteration only', group: 'diag' },
  { name: 'bg-heartbeat', baseline: 'express', arg: 'bg-heartbeat', label: 'heartbeat only (timer, drift, shared memory)', group: 'diag' },
  { name: 'bg-elu', baseline: 'express', arg: 'bg-elu', label: 'heartbeat + an ELU read every beat', group: 'diag' },
  { name: 'bg-watchdog', baseline: 'express', arg: 'bg-watchdog', label: 'heartbeat + watchdog worker', group: 'diag' },
  { name: 'bg-debugger', baseline: 'express', arg: 'bg-debugger', label: 'inspector session, Debugger enabled only', group: 'diag' },
  { name: 'guard-only', baseline: 'express', arg: 'guard-only', label: 'guard running, no middleware', group: 'diag' },
  { name: 'guard-nocapture', baseline: 'express', arg: 'guard-nocapture', label: 'guard, captureStacks: false, no middleware', group: 'diag' },
  { name: 'nocapture', baseline: 'express', arg: 'nocapture', label: 'loopguard captureStacks: false', group: 'diag' },
  { name: 'noprobe', baseline: 'express', arg: 'noprobe', label: 'loopguard threadPoolProbe: false (vs default: the probe under load)', group: 'diag' },
  { name: 'proto-noals', baseline: 'express', arg: 'proto-noals', label: 'prototype: middleware without ALS', group: 'diag' },
  { name: 'proto-als', baseline: 'express', arg: 'proto-als', label: 'prototype: adapter shape with ALS', group: 'diag' },
  { name: 'proto-lean', baseline: 'express', arg: 'proto-lean', label: 'prototype: lean (nothing on res) with ALS', group: 'diag' },
  { name: 'proto-lean-noals', baseline: 'express', arg: 'proto-lean-noals', label: 'prototype: lean without ALS', group: 'diag' },
  { name: 'sym-read', baseline: 'express', arg: 'sym-read', label: 'read an absent symbol on res', group: 'diag' },
  { name: 'sym-write', baseline: 'express', arg: 'sym-write', label: 'write a symbol on res', group: 'diag' },
];

/** The variants measured at idle, side by side (the first is the baseline). */
export const IDLE_VARIANTS = [
  { server: 'express', arg: 'bare', label: 'Express bare' },
  { server: 'express', arg: 'loopguard', label: 'loopguard (default)', budget: 0.3 },
  { server: 'express', arg: 'precise', label: 'loopguard precise' },
  // Against `loopguard` above: what the thread-pool probe costs an idle process.
  { server: 'express', arg: 'noprobe', label: 'loopguard threadPoolProbe: false' },
  // Against `loopguard` above: what busy-time sampling costs an idle process (it backs off to ~1 sample / 3 s).
  { server: 'express', arg: 'nobusy', label: 'loopguard busySampleHz: 0' },
  // Against each other: what watching one idle worker thread costs an idle process.
  { server: 'express', arg: 'lg-plainworker', label: 'loopguard + an unwatched idle worker' },
  { server: 'express', arg: 'lg-worker', label: 'loopguard + a watched idle worker' },
];

/**
 * Variants to run: --only names (any group), else the main group, plus
 * diagnostics with --diag; with --ladder, the ladder's rungs alone. The A/A control of every baseline that a runnable
 * variant uses comes first, unless `noControl` (then no verdict can be
 * decided: see lib/verdict.mjs).
 */
export function selectVariants({ only, diag, ladder = false, noControl = false }) {
  const picked = only
    ? VARIANTS.filter((v) => only.includes(v.name))
    : VARIANTS.filter((v) => (ladder ? v.group === 'ladder' : v.group === 'main' || (diag && v.group === 'diag')));
  const unknown = only?.filter((n) => !VARIANTS.some((v) => v.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown variant(s): ${unknown.join(', ')}; known: ${VARIANTS.map((v) => v.name).join(', ')}`);
  const runnable = [];
  const skipped = [];
  for (const v of picked) {
    if (noControl && v.control) continue;
    if (v.requires && !existsSync(v.requires)) skipped.push({ ...v, reason: `${v.requires.replace(/.*\/dist\//, 'dist/')} not built (adapter not in the tree yet)` });
    else runnable.push(v);
  }
  const controls = noControl ? [] : VARIANTS.filter((c) => c.control && !runnable.includes(c) && runnable.some((v) => v.baseline === c.baseline));
  return { runnable: [...controls, ...runnable], skipped };
}
