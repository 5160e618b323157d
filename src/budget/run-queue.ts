/**
 * The main thread's run-queue wait (Linux schedstat, second field): time it
 * was runnable but the kernel gave the CPU to someone else. The loop budget
 * takes it off each request's own time, so a loaded CI machine does not turn
 * a 5 ms handler into a 25 ms offender. A thread asleep in a blocking call
 * (readFileSync on a slow disk, Atomics.wait) is not waiting in the run
 * queue: that time still counts, as it should. The same reader as the
 * watchdog's thread clock, on the calling thread.
 */
import { openThreadClock } from '../watchdog/thread-clock';

/** A clock of this thread's run-queue wait in ms, or undefined where schedstat is not available. */
export function runQueueWaitClock(): (() => number) | undefined {
  const clock = openThreadClock('self', { schedstatOnly: true });
  if (clock.unavailable.includes('schedstat')) {
    clock.close();
    return undefined;
  }
  let last = 0;
  return () => {
    const waitingNs = clock.read().waitingNs;
    // A failed read keeps the last value: it must not make a request look faster or slower.
    if (waitingNs !== null) last = waitingNs / 1e6;
    return last;
  };
}
