import type { Advice } from '../contract/advice';
import type { STALL_CAUSES } from '../catalogue';
import type { StackFrame } from '../contract/frames';
import type { StallState, ThreadTime } from '../contract/thread-time';

export type { StackFrame };

/**
 * `request`: a request's code held the loop; `background`: no request context; `gc`: mostly a GC pause;
 * `expected`: code declared as expected to block (`expectedBlockingRoutes`, `guard.expectBlocking(fn)`):
 * measured and reported, never alerted on or shed; `host`: the thread was runnable but the host did not
 * run it (another task had its CPU, or the container's CPU quota ran out): no route is blamed or shed;
 * `task`: a pool task's code (`guard.task(name, fn)`, a piscina task), named in `route`.
 */
export type StallCause = (typeof STALL_CAUSES)[number];

/** A stall and its culprit. JSON-serialisable; holds no raw URL, header or body. */
export interface StallReport {
  id: number;
  /** Epoch milliseconds. */
  startedAt: number;
  durationMs: number;
  /** Route template of the culprit request (a task's name when `cause` is `task`), or null when no request held the loop. */
  route: string | null;
  method: string | null;
  cause: StallCause;
  /** Blocking stack, top first; [] when not captured. */
  stack: StackFrame[];
  /** Requests in flight that waited through this stall (the culprit excluded). */
  victims: number;
  /** The blocking call found and what to do instead; null when unsure (wrong advice is worse than none). */
  advice: Advice | null;
  /**
   * The culprit had already been answered: the loop was held by work its
   * route left behind (a timer, the rest of an async handler), still in its
   * context. False for in-handler stalls and for stalls with no request.
   */
  afterResponse: boolean;
  /** The loop that stalled: `main`, or the worker thread's label (its name, else `worker-<threadId>`; capped). */
  thread?: string;
  /**
   * What the loop's thread was doing (docs/stall-state.md): `cpu` computing,
   * `parked` asleep in a blocking call, `gc` collecting garbage, `host`
   * runnable but not run. Null where it could not be measured (not Linux, no
   * procfs, captures off or not allowed, a stall too short to read) and GC
   * did not decide it.
   */
  state: StallState | null;
  /** Where the thread's time went over the stall, ms; a field is null where it could not be measured. */
  threadTime: ThreadTime;
  /**
   * A `host` stall's request that was running when the host stopped the
   * thread, when the watchdog saw one: kept for the record, never blamed.
   * Null otherwise.
   */
  interrupted: InterruptedRequest | null;
  /**
   * Reports of the same culprit held back by `reportsPerCulpritPerMinute`
   * since the last one delivered; present only when some were.
   */
  suppressed?: number;
}

/** The request a host stall interrupted. */
export interface InterruptedRequest {
  route: string | null;
  method: string;
}
