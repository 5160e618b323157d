/**
 * The one way every adapter takes a guard: an existing guard itself, or
 * `{ guard }` (beside the adapter's own keys, such as http's `route`); any
 * other object is options for a guard the adapter creates, and owns.
 */
import { createLoopGuard, isLoopGuard, type LoopGuard } from '../create-guard';
import { InvalidOptionError } from '../errors';
import { threadGuard } from '../thread-guard';
import type { LoopGuardOptions } from '../options';

/** What an adapter accepts: options for a new guard, `{ guard }`, or a guard. */
export type GuardInput = (LoopGuardOptions & { /** Use this existing guard; no guard option may be given beside it. */ guard?: LoopGuard }) | LoopGuard;

export interface AdapterGuard {
  guard: LoopGuard;
  /** Created here from options: the adapter closes it when its app closes. */
  owned: boolean;
}

/** Resolves an adapter's input to a guard; `adapterKeys` are the adapter's own options, not the guard's. */
export function resolveGuard(input: unknown, adapterKeys: readonly string[] = []): AdapterGuard {
  if (isLoopGuard(input)) return { guard: input, owned: false };
  // In a watched worker thread an adapter given no guard shares the thread's:
  // a second guard there would count every stall of the thread twice.
  const shared = threadGuard();
  if (input === undefined && shared !== undefined) return { guard: shared, owned: false };
  // Not an object: the options resolver says what is wrong with it.
  if (input === null || typeof input !== 'object') return { guard: createLoopGuard(input as LoopGuardOptions | undefined), owned: true };
  const { guard, ...rest } = input as Record<string, unknown>;
  for (const key of adapterKeys) delete rest[key];
  if (guard === undefined) return shared !== undefined ? { guard: shared, owned: false } : { guard: createLoopGuard(rest as LoopGuardOptions), owned: true };
  if (!isLoopGuard(guard)) throw new InvalidOptionError('guard', 'a LoopGuard (from createLoopGuard())', guard);
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new InvalidOptionError(extra[0]!, 'absent when an existing guard is passed (configure that guard instead)', 'an option');
  return { guard, owned: false };
}
