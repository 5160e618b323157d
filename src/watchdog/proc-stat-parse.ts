/**
 * Parsers for the Linux files that say where a thread's time went: its
 * schedstat and stat, the process's cgroup membership and the cgroup's
 * cpu.stat. Pure (text in, fields out) so they are tested on fixture files;
 * every parser returns undefined rather than throwing on text it does not
 * recognise, because a kernel we have not seen must cost a field, never the
 * watchdog.
 */

/** `/proc/<pid>/task/<tid>/schedstat`: "<ns on CPU> <ns waiting on a runqueue> <timeslices>". */
export interface Schedstat {
  onCpuNs: number;
  /**
   * Runnable but not running. On Linux 6.18 this includes time the thread's
   * cgroup was CFS-throttled (measured: docs/stall-state.md), not only time
   * another task held the CPU.
   */
  waitingNs: number;
  /** Times the thread was put on a CPU (the third field; `pcount`): many short runs are time-sharing, a few long waits a preemption or throttling. */
  timeslices?: number;
}

export function parseSchedstat(text: string): Schedstat | undefined {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 2) return undefined;
  const onCpuNs = wholeNumber(fields[0]);
  const waitingNs = wholeNumber(fields[1]);
  if (onCpuNs === undefined || waitingNs === undefined) return undefined;
  const timeslices = wholeNumber(fields[2]);
  return timeslices === undefined ? { onCpuNs, waitingNs } : { onCpuNs, waitingNs, timeslices };
}

/** The few `/proc/<pid>/task/<tid>/stat` fields that help explain a stall. */
export interface TaskStat {
  /** R running or runnable, S sleeping (parked in a wait), D uninterruptible (disk, NFS), … */
  state: string;
  /** User and system CPU time in clock ticks (USER_HZ, 100 on every Linux we ship to): coarse, a cross-check only. */
  utimeTicks: number;
  stimeTicks: number;
}

export function parseTaskStat(text: string): TaskStat | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces
  // and parentheses: the fixed fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const state = rest[0];
  const utimeTicks = wholeNumber(rest[11]);
  const stimeTicks = wholeNumber(rest[12]);
  if (state === undefined || !/^[A-Za-z]$/.test(state) || utimeTicks === undefined || stimeTicks === undefined) return undefined;
  return { state, utimeTicks, stimeTicks };
}

/** Where this process sits in the cgroup hierarchies, from `/proc/self/cgroup`. */
export interface CgroupMembership {
  /** The cgroup v1 hierarchy that holds the `cpu` controller, if any. */
  v1Cpu: { controllers: string[]; path: string } | null;
  /** The cgroup v2 (unified) hierarchy's path, if the line `0::<path>` is there. */
  v2: { path: string } | null;
}

export function parseCgroupFile(text: string): CgroupMembership | undefined {
  let v1Cpu: CgroupMembership['v1Cpu'] = null;
  let v2: CgroupMembership['v2'] = null;
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    // "<id>:<controllers>:<path>"; the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    lines++;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (id === '0' && controllers === '') v2 = { path };
    else if (controllers.split(',').includes('cpu')) v1Cpu = { controllers: controllers.split(','), path };
  }
  return lines === 0 ? undefined : { v1Cpu, v2 };
}

/** A cpu.stat file worth trying, in the order to try them. */
export interface CpuStatCandidate {
  version: 1 | 2;
  file: string;
}

/**
 * The cpu.stat files that may be this process's, best first. A v1 `cpu`
 * controller wins over the v2 line: a controller lives in one hierarchy only,
 * so on a hybrid host (v1 controllers, an empty unified tree) the v2 cpu.stat
 * has no throttling fields. The v1 mount is named after its controllers
 * (`cpu,cpuacct` on systemd hosts, `cpu` here, often with symlinks between
 * them). Each hierarchy's own root comes last: a container without a cgroup
 * namespace sees its host-side path in /proc/self/cgroup while its own group
 * is mounted at the root.
 */
export function cpuStatCandidates(membership: CgroupMembership, root = '/sys/fs/cgroup'): CpuStatCandidate[] {
  const out: CpuStatCandidate[] = [];
  const add = (version: 1 | 2, dir: string, path: string): void => {
    out.push({ version, file: joinPath(dir, path, 'cpu.stat') });
    if (path !== '/') out.push({ version, file: joinPath(dir, '/', 'cpu.stat') });
  };
  if (membership.v1Cpu !== null) {
    const { controllers, path } = membership.v1Cpu;
    const mounts = new Set([`${root}/${controllers.join(',')}`, `${root}/cpu,cpuacct`, `${root}/cpu`]);
    for (const dir of mounts) out.push({ version: 1, file: joinPath(dir, path, 'cpu.stat') });
    if (path !== '/') for (const dir of mounts) out.push({ version: 1, file: joinPath(dir, '/', 'cpu.stat') });
  }
  if (membership.v2 !== null) {
    add(2, root, membership.v2.path);
    // Hybrid hosts mount the unified tree here; it has no cpu controller then,
    // but a v1 `cpu` line was missing, so this is the only place left to look.
    add(2, `${root}/unified`, membership.v2.path);
  }
  return dedupe(out);
}

/** The throttling counters of a cgroup, in one unit whatever the version. */
export interface CpuThrottling {
  /** Sum over the cgroup's per-CPU run queues of the time each was throttled: can exceed wall time. */
  throttledNs: number;
  /** Periods in which the cgroup hit its quota. */
  nrThrottled: number;
  /** The cgroup's CPU use (v2 only; v1 keeps it in cpuacct). */
  usageNs: number | null;
}

/**
 * cgroup v2 cpu.stat. `throttled_usec` is only there when the cpu controller
 * is enabled for the group: without it the group cannot be throttled, and we
 * return undefined so the caller reports throttling as unknown rather than 0.
 */
export function parseCpuStatV2(text: string): CpuThrottling | undefined {
  const fields = keyValues(text);
  const throttledUs = fields.get('throttled_usec');
  const nrThrottled = fields.get('nr_throttled');
  if (throttledUs === undefined || nrThrottled === undefined) return undefined;
  const usageUs = fields.get('usage_usec');
  return { throttledNs: throttledUs * 1000, nrThrottled, usageNs: usageUs === undefined ? null : usageUs * 1000 };
}

/** cgroup v1 cpu.stat: `throttled_time` is in nanoseconds. */
export function parseCpuStatV1(text: string): CpuThrottling | undefined {
  const fields = keyValues(text);
  const throttledNs = fields.get('throttled_time');
  const nrThrottled = fields.get('nr_throttled');
  if (throttledNs === undefined || nrThrottled === undefined) return undefined;
  return { throttledNs, nrThrottled, usageNs: null };
}

function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined || extra !== undefined) continue;
    const n = wholeNumber(value);
    if (n !== undefined) out.set(key, n);
  }
  return out;
}

function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  // Past 2^53 ns (104 days of CPU) precision goes before the value does: deltas stay right to the µs.
  return Number.isFinite(n) ? n : undefined;
}

function joinPath(dir: string, path: string, file: string): string {
  const middle = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  return [dir, ...middle, file].join('/');
}

function dedupe(candidates: CpuStatCandidate[]): CpuStatCandidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => (seen.has(c.file) ? false : (seen.add(c.file), true)));
}
