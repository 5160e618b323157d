/** The fix sentence of each kind: the non-blocking alternative, in plain words. */
import { docsFor, type Advice, type AdviceKind } from '../contract/advice';
import type { KnownCall } from './known-calls';

const FIXES: Record<AdviceKind, (instead: string) => string> = {
  'sync-crypto': (instead) =>
    `Use ${instead} with a callback or util.promisify: it runs on libuv's thread pool and leaves the loop free. ` +
    'The pool has 4 threads by default (UV_THREADPOOL_SIZE): watch its queue, not just the loop.',
  'sync-fs': (instead) =>
    `Use ${instead} or a stream: the file work then runs on libuv's thread pool. Read files that never change once, at start.`,
  'sync-zlib': (instead) =>
    `Use ${instead} (callback or util.promisify) or a zlib stream: compression then runs on libuv's thread pool.`,
  'sync-child-process': (instead) =>
    `Use ${instead} (callback or util.promisify) so the loop keeps serving while the child runs; for HTTP, use fetch or undici instead of a synchronous client.`,
  'sync-wait': () =>
    'Atomics.wait holds the main thread until it is woken: use Atomics.waitAsync, or await a message from the worker.',
  json: () =>
    'Cap the body size (e.g. express.json({ limit })), parse or serialise once and reuse the result, ' +
    'or stream big documents with a streaming JSON parser or in a worker thread.',
  regex: () =>
    'The pattern backtracks (nested quantifiers such as (a+)+): rewrite it to run in linear time, and bound the input length before matching.',
  cpu: () =>
    'Move the work to a worker pool (worker_threads, piscina), or split it into chunks and yield between them ' +
    '(setImmediate, or scheduler.yield() where available).',
  gc: () =>
    'Garbage collection held the loop: allocate less per request (stream instead of buffering, avoid big temporary arrays), ' +
    'look for a leak in heap snapshots, or give the heap room (--max-old-space-size).',
  'blocking-syscall': () =>
    'A blocking system call: look for sync I/O, a sync child process or a wait (readFileSync on a slow disk or network mount, execSync, Atomics.wait, ' +
    'a synchronous DNS or HTTP client), and use its asynchronous form.',
  host: () =>
    'Not the code: the thread was ready to run but the host did not run it. If the container has a CPU limit, raise or remove it (throttling), ' +
    'or lower the work per instance; otherwise look for other busy processes on the same CPUs.',
};

export function adviceFor(kind: AdviceKind, known?: KnownCall | null): Advice {
  return { call: known?.call ?? null, kind, fix: FIXES[kind](known?.instead ?? ''), docs: docsFor(kind) };
}
