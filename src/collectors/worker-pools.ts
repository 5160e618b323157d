/**
 * Worker pools the app watches with `guard.watchPool(pool, { name })`: a
 * piscina instance, or a hand-made `worker_threads` pool that exposes the
 * same few figures. Nothing is sampled in the background: the figures are
 * read from the pool when an exporter collects or a snapshot is taken.
 */
import { InvalidOptionError, LoopGuardError } from '../errors';

/**
 * What loopguard reads from a pool, in piscina's shapes and units (ms).
 * A hand-made pool implements it with getters (see the README).
 */
export interface WatchablePool {
  /** Tasks waiting for a thread right now. */
  readonly queueSize: number;
  /** Threads the pool runs at most. */
  readonly maxThreads: number;
  /** Queue wait summary, ms (piscina ≥ 5). */
  readonly histogram?: { readonly waitTime?: WaitSummary | null } | null;
  /** Queue wait summary, ms (piscina 4). */
  readonly waitTime?: WaitSummary | null;
}

export interface WaitSummary {
  readonly p50: number;
  readonly p99: number;
}

export interface WatchPoolOptions {
  /** The `pool` label: letters, digits, `_`, `-`, `.`, `:`; at most 64 characters. */
  name: string;
}

export interface WorkerPoolFigures {
  name: string;
  queueSize: number;
  size: number;
  /** Queue wait as the pool reports it (piscina: since it started or its histogram was reset); null when it keeps none. */
  waitP50Ms: number | null;
  waitP99Ms: number | null;
}

/** Pool label values are user-given: a small cap keeps the series few whatever the code does. */
export const MAX_WATCHED_POOLS = 10;
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export class WorkerPools {
  private readonly pools = new Map<string, WatchablePool>();

  /** Starts reading `pool`'s figures; returns the function that stops. Throws on bad input (a setup-time call). */
  watch(pool: unknown, options: WatchPoolOptions): () => void {
    if (pool === null || typeof pool !== 'object') throw new InvalidOptionError('pool', 'a piscina instance or an object with queueSize and maxThreads', pool);
    const p = pool as WatchablePool;
    if (typeof p.queueSize !== 'number' || typeof p.maxThreads !== 'number') {
      throw new InvalidOptionError('pool', 'a piscina instance or an object with numeric queueSize and maxThreads', pool);
    }
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object such as { name: "images" }', options);
    const { name } = options;
    if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidOptionError('name', 'a pool name of 1–64 letters, digits, _ - . :', name);
    if (this.pools.has(name)) throw new LoopGuardError('LOOPGUARD_POOL_WATCHED', `loopguard: a pool named ${name} is already watched; give each pool its own name`);
    if (this.pools.size >= MAX_WATCHED_POOLS) {
      throw new LoopGuardError('LOOPGUARD_TOO_MANY_POOLS', `loopguard: at most ${MAX_WATCHED_POOLS} pools can be watched (the pool label's cardinality cap)`);
    }
    this.pools.set(name, p);
    return () => {
      if (this.pools.get(name) === p) this.pools.delete(name);
    };
  }

  get size(): number {
    return this.pools.size;
  }

  /** Current figures of every watched pool. A pool whose getters throw is skipped and reported. */
  read(onError: (err: unknown) => void): WorkerPoolFigures[] {
    const out: WorkerPoolFigures[] = [];
    for (const [name, pool] of this.pools) {
      try {
        const wait = pool.histogram?.waitTime ?? pool.waitTime ?? null;
        out.push({
          name,
          queueSize: finiteOr(pool.queueSize, 0),
          size: finiteOr(pool.maxThreads, 0),
          waitP50Ms: wait ? finiteOr(wait.p50, null) : null,
          waitP99Ms: wait ? finiteOr(wait.p99, null) : null,
        });
      } catch (err) {
        onError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `reading pool ${name} failed: ${(err as Error)?.message ?? err}`, { cause: err }));
      }
    }
    return out;
  }
}

/** An empty Node histogram reports NaN means and huge minimums: only finite, non-negative figures pass. */
function finiteOr<T extends number | null>(value: unknown, fallback: T): number | T {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}
