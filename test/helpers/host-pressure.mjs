// Makes the host, not the code, stall a process: a cgroup v1 CPU quota
// (throttling) and a real-time competitor pinned to a CPU (preemption). For
// the stall-state scenario tests and the measurements in docs/stall-state.md.
// Both need root (or CAP_SYS_NICE / a writable cgroup): when the machine does
// not allow them, the functions throw a HostPressureError that says why, so a
// test fails rather than skips.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class HostPressureError extends Error {
  name = 'HostPressureError';
}

const CPU_CGROUP_V1 = '/sys/fs/cgroup/cpu';
let groups = 0;

/** Why a CPU-quota cgroup cannot be made here, or null when it can. */
export function cpuQuotaUnavailable() {
  if (process.platform !== 'linux') return `cgroups are Linux only (this is ${process.platform})`;
  const mounts = fs.readFileSync('/proc/self/mounts', 'latin1');
  const line = mounts.split('\n').find((l) => l.split(' ')[1] === CPU_CGROUP_V1);
  if (line === undefined) return `no cgroup v1 cpu hierarchy mounted at ${CPU_CGROUP_V1} (/proc/self/mounts)`;
  if (!line.split(' ')[3].split(',').includes('rw')) return `${CPU_CGROUP_V1} is mounted read-only`;
  try {
    fs.accessSync(CPU_CGROUP_V1, fs.constants.W_OK);
  } catch {
    return `${CPU_CGROUP_V1} is not writable by uid ${process.getuid?.()}: creating a cgroup needs root`;
  }
  return null;
}

/**
 * Runs `command args` in a fresh cgroup v1 `cpu` group limited to `quotaUs`
 * per `periodUs`, removing the group when the process has exited. The child
 * moves itself in before it execs, so all its CPU time is under the quota.
 * Returns the child and `exited`, resolving to { code, signal, stdout, stderr, cpuStat }.
 */
export function runInCpuQuota({ quotaUs, periodUs, command, args = [], env = process.env }) {
  const why = cpuQuotaUnavailable();
  if (why !== null) throw new HostPressureError(`cannot run under a CPU quota: ${why}`);
  const group = path.join(CPU_CGROUP_V1, `loopguard-test-${process.pid}-${++groups}`);
  try {
    fs.mkdirSync(group);
    fs.writeFileSync(path.join(group, 'cpu.cfs_period_us'), String(periodUs));
    fs.writeFileSync(path.join(group, 'cpu.cfs_quota_us'), String(quotaUs));
  } catch (err) {
    removeGroup(group);
    throw new HostPressureError(`cannot set up ${group} (period ${periodUs} µs, quota ${quotaUs} µs): ${err.message}`);
  }
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, command, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve, reject) => {
    child.on('error', (err) => {
      removeGroup(group);
      reject(new HostPressureError(`cannot start ${command} in ${group}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      const cpuStat = readOr(path.join(group, 'cpu.stat'));
      removeGroup(group);
      if (code !== 0 && /cgroup\.procs/.test(stderr)) {
        reject(new HostPressureError(`cannot move the child into ${group}: ${stderr.trim()}`));
      } else resolve({ code, signal, stdout, stderr, cpuStat });
    });
  });
  return { child, group, exited };
}

function removeGroup(group) {
  // The group is empty once its last task is reaped, which `close` follows;
  // rmdir of a cgroup directory removes its control files with it.
  try {
    fs.rmdirSync(group);
  } catch (err) {
    if (err.code !== 'ENOENT') process.emitWarning(`loopguard tests: could not remove ${group}: ${err.message}`);
  }
}

function readOr(file) {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/** Why a real-time competitor cannot be started here, or null when it can. */
export function rtCompetitorUnavailable() {
  if (process.platform !== 'linux') return `chrt and taskset are Linux only (this is ${process.platform})`;
  for (const tool of ['chrt', 'taskset']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error) return `${tool} is not installed (${r.error.code}): it comes with util-linux`;
  }
  const r = spawnSync('chrt', ['-f', '50', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) return `chrt -f 50 is not allowed here (needs root or CAP_SYS_NICE, and RT runtime for this cgroup): ${r.stderr.trim()}`;
  const cpus = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (cpus.status !== 0) return `taskset cannot read this process's CPUs: ${cpus.stderr.trim()}`;
  return null;
}

/**
 * Starts a busy loop at SCHED_FIFO priority `priority` pinned to `cpu` for
 * `ms` milliseconds of its own clock, from `startAtEpochMs` (default: at once). Anything ordinary on that CPU gets no
 * time until it ends, except what the kernel reserves for ordinary tasks
 * (RT throttling / the fair server, 50 ms a second by default).
 */
export function startRtCompetitor({ cpu, ms, priority = 50, startAtEpochMs = 0 }) {
  const why = rtCompetitorUnavailable();
  if (why !== null) throw new HostPressureError(`cannot start a real-time competitor: ${why}`);
  // Node's own start-up (~50 ms of CPU, with I/O gaps) at real-time priority
  // would preempt the CPU's other tasks at a time nobody chose: with
  // `startAtEpochMs` the loop starts at a known time, once start-up is over.
  const loop = `setTimeout(() => { const end = Date.now() + ${Number(ms)}; while (Date.now() < end); }, ${Number(startAtEpochMs)} - Date.now());`;
  const child = spawn('chrt', ['-f', String(priority), 'taskset', '-c', String(cpu), process.execPath, '-e', loop], { stdio: 'ignore' });
  const exited = new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new HostPressureError(`cannot start the competitor: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new HostPressureError(`the competitor exited with ${code}`))));
  });
  return { child, exited };
}

/**
 * Pins one thread (Linux tid; a process's main thread has the pid) to `cpu`,
 * leaving its other threads where they were: the watchdog worker must not
 * share the starved CPU, or its readings would wait for the competitor too.
 */
export function pinThread(tid, cpu) {
  const r = spawnSync('taskset', ['-pc', String(cpu), String(tid)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new HostPressureError(`cannot pin thread ${tid} to CPU ${cpu}: ${r.error?.message ?? r.stderr.trim()}`);
}
