/**
 * The main thread's run-queue wait (Linux schedstat, second field): time it
 * was runnable but the kernel gave the CPU to someone else. The loop budget
 * takes it off each request's own time, so a loaded CI machine does not turn
 * a 5 ms handler into a 25 ms offender. A thread asleep in a blocking call
 * (readFileSync on a slow disk, Atomics.wait) is not waiting in the run
 * queue: that time still counts, as it should.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** A clock of this thread's run-queue wait in ms, or undefined where schedstat is not available. */
export function runQueueWaitClock(): (() => number) | undefined {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(96);
  const read = (): number => {
    // pread at 0: procfs regenerates the line on every read of the same descriptor.
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    let i = buffer.indexOf(32);
    if (i < 0 || i >= length) return NaN;
    let ns = 0;
    for (i++; i < length; i++) {
      const c = buffer[i]!;
      if (c < 48 || c > 57) break;
      ns = ns * 10 + (c - 48);
    }
    return ns / 1e6;
  };
  try {
    if (!Number.isFinite(read())) throw new Error('unexpected schedstat format');
  } catch {
    closeSync(fd);
    return undefined;
  }
  let last = 0;
  return () => {
    try {
      const value = read();
      if (Number.isFinite(value)) last = value;
    } catch {
      // Keep the last value: a failed read must not make a request look faster or slower.
    }
    return last;
  };
}
