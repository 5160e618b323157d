import type { Advice } from '../contract/advice';

const LEFT_BEHIND_FIX =
  'It ran after the response, in work the route left behind: hand it to a job queue or a worker pool (worker_threads, piscina) so it stops competing with requests on the loop.';

/**
 * Advice for a stall in work a route left behind after answering. The async
 * API still applies, but the usual fix is to stop doing the work on the
 * request's loop at all. Null stays null: an unidentified stall says less.
 */
export function leftBehindAdvice(advice: Advice | null): Advice | null {
  if (advice === null) return null;
  return { ...advice, fix: `${LEFT_BEHIND_FIX} ${advice.fix}` };
}
