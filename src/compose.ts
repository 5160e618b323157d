/**
 * The composition: the one place that builds a guard's kernel
 * (src/core/kernel.ts) and attaches what accumulates around it — the
 * delay histogram and loop stats, stall stats and the stall's delivery
 * (`onStall`, the logger, the `'stall'` event), busy time, the thread-pool
 * and worker-pool figures, the shed totals — then assembles the read model
 * the consumers (exporters, views, shedding) get. Nothing here inherits:
 * each part is a collector the kernel closes, and declares the watchdog
 * worker parts it needs (`Collector.worker`), read once at `kernel.start()`.
 *
 * Adding a collector:
 * 1. Write it in its own module. An accumulator follows the kernel through
 *    `kernel.observers.add({ beat, culprit, stall, samplesUsed })` (or
 *    `kernel.requestObservers` for every request: the hot path, O(1),
 *    measured); a consumer is a factory `(context: GuardContext) => Collector`
 *    that reads `context.model` at its own time.
 * 2. Attach it here (accumulators) or in src/create-guard.ts (consumers
 *    chosen by the options), before `kernel.start()`.
 * 3. A metric it exports goes in the catalogue (src/catalogue.ts) first.
 */
import { DELAY_BUCKETS_SECONDS, THREADPOOL_BUCKETS_SECONDS } from './catalogue';
import { BusyTime } from './busy/busy-time';
import type { GuardContext, GuardReadModel, ShedCounter } from './collectors/read-model';
import { LoopStats } from './collectors/loop-stats';
import { buildSnapshot, type LoopGuardSnapshot } from './collectors/snapshot';
import { stallDelivery } from './collectors/stall-delivery';
import { StallStats } from './collectors/stall-stats';
import { ThreadPoolStats } from './collectors/thread-pool';
import { WorkerPools } from './collectors/worker-pools';
import { ThreadRegistry } from './collectors/threads';
import { isMainThread } from './core/thread-name';
import type { LoopGuardEvents } from './core/events';
import { expectedRouteTest } from './core/expected';
import { Histogram } from './core/histogram';
import { Kernel } from './core/kernel';
import type { StallReport } from './core/stall-report';
import type { ResolvedOptions } from './options';
import { createShedTotals } from './shed/totals';

/** A composed guard's parts: the kernel, the accumulators, and what consumers get. */
export interface GuardParts {
  readonly kernel: Kernel;
  /** Heartbeat delay samples, seconds. */
  readonly delayHistogram: Histogram;
  readonly loop: LoopStats;
  readonly stalls: StallStats;
  readonly threadPool: ThreadPoolStats;
  readonly workerPools: WorkerPools;
  /** Watched worker threads (main thread only; undefined in a worker or when disabled). */
  readonly threads: ThreadRegistry | undefined;
  /** Sampled busy time by route; undefined when `busySampleHz` is 0. */
  readonly busy: BusyTime | undefined;
  /** Requests answered 503 by load shedding, by route label and reason (written by shed/). */
  readonly shedTotals: Map<string, ShedCounter>;
  readonly model: GuardReadModel;
  readonly context: GuardContext;
  /** Recent stalls, per-route totals, delay percentiles and ELU, with every consumer's section. */
  snapshot(): LoopGuardSnapshot;
}

export type Emit = <K extends keyof LoopGuardEvents>(event: K, ...args: LoopGuardEvents[K]) => void;

export function composeGuard(options: ResolvedOptions, emit: Emit): GuardParts {
  let threads: ThreadRegistry | undefined;
  const kernel = new Kernel(options, () => {
    threads?.rewatchAll();
    emit('watchdog:ready');
  });
  const reportError = (err: unknown): void => kernel.errors.report(err);

  // Accumulators, in the order they see each beat and stall: the stats first,
  // so a 'stall' listener reading snapshot() already finds its stall.
  const delayHistogram = new Histogram(DELAY_BUCKETS_SECONDS);
  // Delay percentiles from the heartbeat itself: no timer of their own (collectors/loop-stats.ts).
  const loop = new LoopStats();
  kernel.observers.add({
    beat(lateMs) {
      delayHistogram.record(lateMs / 1000);
      loop.update(lateMs);
    },
  });
  const stalls = new StallStats(options.recentStalls);
  kernel.observers.add({ stall: (report, label) => stalls.record(report, label) });
  kernel.observers.add(stallDelivery(options, (report: StallReport) => emit('stall', report), reportError));

  const threadPool = new ThreadPoolStats(THREADPOOL_BUCKETS_SECONDS, options.threadPoolProbe && options.threadPoolProbe.intervalMs);
  const poolProbe = threadPool.probeConfig();
  if (poolProbe) kernel.attach({ worker: { poolProbe }, close: () => undefined });
  const workerPools = new WorkerPools();
  const busy = options.busySampleHz > 0 ? attachBusyTime(kernel, options) : undefined;
  const shedTotals = createShedTotals();
  // Worker threads join the main thread's guard (src/worker.ts): their stalls and loop figures are counted here.
  if (isMainThread && options.enabled) {
    threads = kernel.attach(new ThreadRegistry(kernel));
    threads.start();
  }

  const model: GuardReadModel = {
    options,
    delayHistogram,
    routes: kernel.routes,
    stalls,
    loop,
    shedTotals,
    threadPool,
    busy,
    workerPools: () => workerPools.read(reportError),
    threads: () => threads?.rows() ?? [],
    get requestsInFlight() {
      return kernel.tracker.inFlight;
    },
    get watchdogRunning() {
      return kernel.watchdog?.running ?? false;
    },
    get isClosed() {
      return kernel.isClosed;
    },
    blockedForMs: () => kernel.blockedForMs(),
    inStartupGrace: () => kernel.inStartupGrace(),
  };
  const sections = new Map<string, () => unknown>();
  const context: GuardContext = {
    model,
    observe: (observer) => kernel.observers.add(observer),
    observeRequests: (observer) => kernel.requestObservers.add(observer),
    snapshotSection: (key, read) => void sections.set(key, read),
    emit,
    reportError,
  };
  const snapshot = (): LoopGuardSnapshot => {
    const out: Record<string, unknown> = { ...buildSnapshot(model) };
    for (const [key, read] of sections) out[key] = read();
    return out as unknown as LoopGuardSnapshot;
  };
  if (threads !== undefined) {
    const registry = threads;
    context.snapshotSection('threads', () => registry.rows().map((t) => ({ thread: t.label, threads: t.threads, utilization: t.utilization, delayCount: t.delay.count })));
  }
  return { kernel, delayHistogram, loop, stalls, threadPool, workerPools, threads, busy, shedTotals, model, context, snapshot };
}

/** Busy time: counts the sampled requests this kernel's tracker resolves, fed by the worker's busy sampler. */
function attachBusyTime(kernel: Kernel, options: ResolvedOptions): BusyTime {
  const busy = new BusyTime(kernel.routes, kernel.tracker, options.busySampleHz, expectedRouteTest(options.expectedBlockingRoutes), () => kernel.gcPauses.snapshot());
  kernel.tracker.busyResolved = (stats, samples) => busy.resolved(stats, samples);
  kernel.attach({ worker: { busy: { sinkId: busy.sinkId, sampleHz: busy.sampleHz, shared: busy.shared } }, close: () => busy.close() });
  return busy;
}
