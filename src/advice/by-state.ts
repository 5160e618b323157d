/**
 * Advice checked against what the thread was doing. A probe lands after a
 * native call returns, so the call it names may not be what held the loop;
 * the thread's clock says whether the stall computed or slept:
 * - a parked stall with no call named gets the blocking-system-call advice
 *   (a generic "cpu" advice there would send people to the wrong fix);
 * - a computing stall never gets sync-I/O advice: the I/O call it found
 *   returned quickly and the computing around it is what held the loop;
 * - a host stall gets the host's advice: the code is not at fault.
 */
import type { Advice } from '../contract/advice';
import type { StallState } from '../contract/thread-time';
import { adviceFor } from './fixes';

/** Kinds that say "the thread slept in a call". */
const SLEEPING_KINDS: ReadonlySet<Advice['kind']> = new Set(['sync-fs', 'sync-child-process', 'sync-wait', 'blocking-syscall']);

export function adviceForState(advice: Advice | null, state: StallState | null): Advice | null {
  if (state === 'host') return adviceFor('host');
  if (state === 'parked' && (advice === null || (advice.kind === 'cpu' && advice.call === null))) return adviceFor('blocking-syscall');
  if (state === 'cpu' && advice !== null && SLEEPING_KINDS.has(advice.kind)) return adviceFor('cpu');
  return advice;
}
