/**
 * Feeds the loop budget from a guard: each finished request's own time
 * (precise mode) and the watchdog's captures of requests holding the loop.
 * It plugs in from outside as one more observer; the guard knows nothing of it.
 */
import dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { kRecord, type TrackedResponse } from '../adapters/finish';
import type { CaptureSample } from '../contract/messages';
import { expectedRouteTest } from '../core/expected';
import type { LoopGuard } from '../create-guard';
import { excludeRunQueueWait } from '../core/precise';
import type { RequestRecord } from '../core/request-context';
import type { RouteStats } from '../core/routes';
import type { BudgetConfig } from './budget-config';
import { BudgetLedger } from './ledger';
import { runQueueWaitClock } from './run-queue';
import { HTTP_SERVER_RESPONSE_FINISH } from '../contract/channels';

const RESPONSE_FINISH = HTTP_SERVER_RESPONSE_FINISH;

/** How long a verdict waits for the capture of a request that was caught holding the loop. */
const CAPTURE_WAIT_MS = 1500;

export class BudgetRecorder {
  /** The whole run's ledger (the zero-code start's table). */
  readonly ledger: BudgetLedger;
  /** Open scopes, with the responses they saw that another guard had opened (see onResponseFinish). */
  private readonly scopes = new Map<BudgetLedger, { unseen: number }>();
  /** Requests caught by the watchdog whose capture has not arrived yet, with their window. */
  private readonly awaiting = new Map<number, number>();
  private readonly settleWaiters = new Set<() => void>();
  private readonly startedAt = performance.now();
  /** Requests seen per route, per app instance (see warmingUp). */
  private readonly seen = new WeakMap<object, Map<string, number>>();
  private readonly seenWithoutApp = new Map<string, number>();
  private readonly expectedRoute: ((route: string) => boolean) | undefined;
  /** Told after every change that matters for the verdict. */
  onChange: (() => void) | undefined = undefined;

  constructor(
    readonly guard: LoopGuard,
    readonly config: BudgetConfig,
  ) {
    // Warm-up is counted here, per app instance, not by the ledger.
    this.ledger = new BudgetLedger(config.budgetMs, 0);
    this.expectedRoute = expectedRouteTest(guard.options.expectedBlockingRoutes);
    attachObservers(guard, this);
    excludeRunQueueWait(runQueueWaitClock());
  }

  /** A ledger that sees the requests finishing from now until `closeScope`. */
  openScope(budgetMs: number, warmupRequests: number): BudgetLedger {
    const scope = new BudgetLedger(budgetMs, warmupRequests);
    if (this.scopes.size === 0) dc.subscribe(RESPONSE_FINISH, this.onResponseFinish);
    this.scopes.set(scope, { unseen: 0 });
    return scope;
  }

  /** Closes a scope; returns how many responses it saw that it could not judge. */
  closeScope(scope: BudgetLedger): number {
    const unseen = this.scopes.get(scope)?.unseen ?? 0;
    this.scopes.delete(scope);
    if (this.scopes.size === 0) dc.unsubscribe(RESPONSE_FINISH, this.onResponseFinish);
    return unseen;
  }

  /**
   * An app that mounts loopguard's own middleware keeps its requests in its
   * own guard, created before this one: they cannot be judged here, and a
   * scope must not pass for want of seeing them.
   */
  private readonly onResponseFinish = (message: unknown): void => {
    const record = (message as { response?: TrackedResponse }).response?.[kRecord];
    if (record !== undefined && record.owner === this.guard.recordOwner) return;
    for (const counts of this.scopes.values()) counts.unseen++;
  };

  /** Resolves once the captures of requests already finished have arrived (bounded wait). */
  settled(): Promise<void> {
    if (this.awaiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.settleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, CAPTURE_WAIT_MS);
      timer.unref();
      this.settleWaiters.add(done);
    });
  }

  /** @internal From the request tracker: a request finished. */
  finished(record: RequestRecord, stats: RouteStats): void {
    const request = {
      id: record.id,
      method: stats.method,
      route: stats.route,
      ownMs: record.blockingMs,
      warmup: performance.now() - this.startedAt < this.config.startupGraceMs,
      // Declared expected to block (expectedBlockingRoutes): measured, never an offender.
      expected: this.expectedRoute?.(stats.route) === true,
    };
    if (this.warmingUp(record.req, `${stats.method} ${stats.route}`)) request.warmup = true;
    if (record.capturedWindow !== 0) this.awaiting.set(record.id, record.capturedWindow);
    this.ledger.finished(request);
    // A scope is asked for explicitly, inside the run: startup grace is the run's, not its.
    for (const scope of this.scopes.keys()) scope.finished({ ...request, warmup: false });
    this.onChange?.();
  }

  /**
   * The first requests of a route compile its code and load what it requires
   * lazily. That happens again for each instance of the app: Jest loads the
   * app afresh in every test file, each time in a new realm. So warm-up counts
   * per app (Express's `req.app`, else the server), not per process.
   */
  private warmingUp(req: unknown, key: string): boolean {
    if (this.config.warmupRequests === 0) return false;
    const raw = req as { app?: unknown; socket?: { server?: unknown } } | null;
    const app = raw?.app ?? raw?.socket?.server;
    let counts = this.seenWithoutApp;
    if ((app !== null && typeof app === 'object') || typeof app === 'function') {
      counts = this.seen.get(app as object) ?? new Map();
      this.seen.set(app as object, counts);
    }
    const seen = counts.get(key) ?? 0;
    counts.set(key, seen + 1);
    return seen < this.config.warmupRequests;
  }

  /** @internal From the guard: the watchdog's samples of one capture. */
  samples(samples: readonly CaptureSample[]): void {
    let lastWindow = 0;
    for (const sample of samples) {
      if (sample.window > lastWindow) lastWindow = sample.window;
      if (sample.request === null) continue;
      const capture = {
        requestId: sample.request.id,
        stack: sample.stack,
        pausedMs: sample.pausedMs ?? 0,
        advice: sample.advice ?? null,
        expected: sample.expected === true,
      };
      this.ledger.captured(capture);
      for (const scope of this.scopes.keys()) scope.captured(capture);
    }
    // Samples come in window order: every capture up to this window is in. An empty
    // batch names no window (and may be another window's): it ends no wait.
    if (samples.length === 0) return;
    for (const [id, window] of this.awaiting) if (window <= lastWindow) this.awaiting.delete(id);
    if (this.awaiting.size === 0) for (const done of [...this.settleWaiters]) done();
    this.onChange?.();
  }
}

/**
 * Plugged in as a collector: one request observer and one guard observer
 * beside the exporters'. It keeps no span: `begin` returns undefined.
 */
function attachObservers(guard: LoopGuard, recorder: BudgetRecorder): void {
  guard.attach((context) => {
    const detachRequests = context.observeRequests({
      begin: () => undefined,
      captured: () => undefined,
      finished: (record, stats) => recorder.finished(record, stats),
    });
    const detach = context.observe({ samplesUsed: (samples) => recorder.samples(samples) });
    return {
      close() {
        detachRequests();
        detach();
      },
    };
  });
}
