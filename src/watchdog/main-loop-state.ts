import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Whether the main thread is waiting for I/O right now: Linux's
 * `/proc/<pid>/task/<pid>/syscall` names the system call the thread is in
 * ("running" when it is not in one). The event loop waits in epoll, and only
 * there: ELU counts exactly that time as idle, so a sample taken there is
 * idle by ELU's own definition. Blocking calls made by code (`readFileSync`,
 * `Atomics.wait`) are other system calls, busy as ELU counts them.
 *
 * Asking the main thread itself cannot tell: a probe asked for while the loop
 * waits can land at the start of the callback that ends the wait (the socket
 * that woke it is handled before the inspector's own wake-up), and is then
 * charged to that callback. Measured at ELU 46 % with a 1 ms route (Node 24):
 * one sample in eight that landed in a request had been asked for while the
 * loop was idle, which is the bias towards short routes at low utilization.
 */

/** epoll_wait, epoll_pwait and epoll_pwait2 by architecture (the numbers differ). */
const EPOLL_SYSCALLS: Readonly<Record<string, readonly number[]>> = {
  x64: [232, 281, 441],
  arm64: [22, 441],
  ia32: [256, 319, 441],
  arm: [250, 346, 441],
};

/** Whether the main thread waits in epoll right now (undefined: could not read); `close` releases the file. */
export interface LoopIdleReader {
  read(): boolean | undefined;
  close(): void;
}

/** Opens the main thread's syscall file once; undefined where there is none (not Linux, no procfs, unknown architecture). */
export function openLoopIdleReader(pid = process.pid, arch: string = process.arch): LoopIdleReader | undefined {
  const waits = EPOLL_SYSCALLS[arch];
  if (waits === undefined || process.platform !== 'linux') return undefined;
  let fd: number;
  try {
    // The main thread's id is the process id.
    fd = openSync(`/proc/${pid}/task/${pid}/syscall`, 'r');
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(32);
  const read = (): boolean | undefined => {
    try {
      // Read at offset 0: procfs makes the file afresh on every read from the start.
      const n = readSync(fd, buf, 0, buf.length, 0);
      const first = buf.toString('latin1', 0, n).split(' ', 1)[0]!.trim();
      if (first === 'running') return false;
      const nr = Number(first);
      return Number.isInteger(nr) ? waits.includes(nr) : undefined;
    } catch {
      return undefined;
    }
  };
  if (read() === undefined) {
    closeSync(fd);
    return undefined;
  }
  return {
    read,
    close: () => {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    },
  };
}
