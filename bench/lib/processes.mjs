import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat utime/stime (USER_HZ; 100 on Linux everywhere that matters). */
const TICKS_PER_SECOND = 100;

/**
 * Starts `node <file> <variant>` pinned to `core` with taskset (which execs,
 * so the pid and the IPC channel are node's). Resolves once it listens, or
 * with { unavailable } when the variant cannot run here.
 */
export async function startServer(file, variant, { core, nodeArgs = [] } = {}) {
  const args = [...nodeArgs, file, variant];
  const child =
    core === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn('taskset', ['-c', String(core), process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit').then(([code, signal]) => ({ type: 'exit', code, signal }));
  const first = await Promise.race([once(child, 'message').then(([m]) => m), exited]);
  if (first.type === 'unavailable') {
    await exited;
    return { unavailable: first.reason };
  }
  if (first.type !== 'ready') throw new Error(`server ${variant} exited before listening (${first.code ?? first.signal})`);
  // One question of each type at a time: answers come back in order.
  const pending = { usage: [], profile: [], alloc: [], heap: [] };
  child.on('message', (msg) => pending[msg?.type]?.shift()?.(msg));
  const ask = (type, msg) =>
    new Promise((resolve) => {
      pending[type].push(resolve);
      child.send({ type, ...msg });
    });
  return {
    port: first.port,
    pid: child.pid,
    node: first.node,
    url: `http://127.0.0.1:${first.port}`,
    /** process.cpuUsage()/memoryUsage() (+ the server's info()) from inside the child; gc: collect first. */
    usage: (gc = false) => ask('usage', { gc }),
    /** Starts / stops counting the bytes the main thread's heap allocates (stop answers { bytes, gcs }). */
    alloc: (action) => ask('alloc', { action }),
    /** Starts / stops (writing `file`) sampling the main thread's allocations, collected ones included. */
    heap: (action, file) => ask('heap', { action, file }),
    /** Starts / stops (writing `file`) a CPU profile of the server's main thread. */
    profile: (action, file) => ask('profile', { action, file }),
    /** utime + stime of every thread of the process so far, seconds (read from outside: wakes nothing). */
    cpuSeconds: () => procCpuSeconds(child.pid),
    /** Scheduler time of every thread so far, ns precision: on a CPU, and runnable but waiting for one. */
    sched: () => procSched(child.pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.send({ type: 'stop' });
      await exited;
      clearTimeout(timer);
    },
  };
}

export function procCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * Scheduler times from /proc/<pid>/task/<tid>/schedstat (ns, exact, unlike
 * the tick-sampled utime/stime): run time summed over every thread, and the
 * main thread's run-queue wait. The main thread of a loaded server is always
 * runnable, so its wait is time something else held our core: another
 * process, or our own other threads (GC helpers) — run.mjs takes those off.
 */
export function procSched(pid) {
  let run = 0;
  let wait = 0;
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      run += Number(r);
      if (tid === String(pid)) {
        wait = Number(w);
        main = Number(r);
      }
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return { runSeconds: run / 1e9, waitSeconds: wait / 1e9, mainRunSeconds: main / 1e9 };
}

/** Machine-wide CPU counters (jiffies) from /proc/stat: to see steal and foreign load during a run. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Runs a command to completion, collecting stdout; rejects on a non-zero exit. */
export async function run(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  // 'close', not 'exit': on a loaded machine a child can exit before its stdout has been read to the end.
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${err.trim()}`);
  return out;
}
