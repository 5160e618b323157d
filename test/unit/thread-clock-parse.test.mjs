// The /proc and cgroup parsers on fixture files (test/fixtures/proc): pure, no I/O but the fixture reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  cpuStatCandidates,
  parseCgroupFile,
  parseCpuStatV1,
  parseCpuStatV2,
  parseSchedstat,
  parseTaskStat,
} from '../../dist/internal.js';

const fixture = (name) => fs.readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'latin1');
const files = (name, root) => cpuStatCandidates(parseCgroupFile(fixture(name)), root).map((c) => `v${c.version} ${c.file}`);

test('parseSchedstat: on-CPU and run-queue wait in ns, from a real line', () => {
  assert.deepEqual(parseSchedstat(fixture('schedstat.txt')), { onCpuNs: 50359409, waitingNs: 12280361, timeslices: 114 });
  assert.deepEqual(parseSchedstat('5 6'), { onCpuNs: 5, waitingNs: 6 }, 'a kernel without the third field');
});

test('parseSchedstat: text it does not know is undefined, never a throw', () => {
  for (const text of ['', '\n', '123', 'a b c', '12 -3 4', '1.5 2 3']) assert.equal(parseSchedstat(text), undefined, JSON.stringify(text));
});

test('parseTaskStat: the fixed fields are found after the last parenthesis, whatever the command name holds', () => {
  assert.deepEqual(parseTaskStat(fixture('task-stat.txt')), { state: 'R', utimeTicks: 1234, stimeTicks: 56 });
  assert.equal(parseTaskStat('4242 (node) R 1 2'), undefined);
  assert.equal(parseTaskStat('no parenthesis here'), undefined);
});

test('parseCpuStatV2: throttled_usec becomes ns, with the throttled periods and the usage', () => {
  assert.deepEqual(parseCpuStatV2(fixture('cpu.stat.v2')), { throttledNs: 27411893000, nrThrottled: 311, usageNs: 8923412000 });
});

test('parseCpuStatV2: a group without the cpu controller cannot be throttled: undefined, not 0', () => {
  assert.equal(parseCpuStatV2(fixture('cpu.stat.v2-no-cpu-controller')), undefined);
});

test('parseCpuStatV1: throttled_time is already ns; v1 keeps no usage here', () => {
  assert.deepEqual(parseCpuStatV1(fixture('cpu.stat.v1')), { throttledNs: 5131678984, nrThrottled: 9, usageNs: null });
  // A v2 file read as v1 (and the reverse) has none of the fields.
  assert.equal(parseCpuStatV1(fixture('cpu.stat.v2')), undefined);
  assert.equal(parseCpuStatV2(fixture('cpu.stat.v1')), undefined);
});

test('parseCgroupFile: a container with its own cgroup namespace sees only 0::/', () => {
  assert.deepEqual(parseCgroupFile(fixture('cgroup-v2-container')), { v1Cpu: null, v2: { path: '/' } });
  assert.deepEqual(files('cgroup-v2-container', '/c'), ['v2 /c/cpu.stat', 'v2 /c/unified/cpu.stat']);
});

test('parseCgroupFile: a systemd service on a v2 host, its own group first', () => {
  assert.deepEqual(files('cgroup-v2-systemd', '/c'), [
    'v2 /c/system.slice/orders-api.service/cpu.stat',
    'v2 /c/cpu.stat',
    'v2 /c/unified/system.slice/orders-api.service/cpu.stat',
    'v2 /c/unified/cpu.stat',
  ]);
});

test('parseCgroupFile: v1 Docker without a cgroup namespace: the cpu,cpuacct mount, then its root (the container\'s own group)', () => {
  const parsed = parseCgroupFile(fixture('cgroup-v1-docker'));
  assert.deepEqual(parsed, { v1Cpu: { controllers: ['cpu', 'cpuacct'], path: '/docker/3f1c0a9d2b7e' }, v2: null });
  assert.deepEqual(files('cgroup-v1-docker', '/c'), [
    'v1 /c/cpu,cpuacct/docker/3f1c0a9d2b7e/cpu.stat',
    'v1 /c/cpu/docker/3f1c0a9d2b7e/cpu.stat',
    'v1 /c/cpu,cpuacct/cpu.stat',
    'v1 /c/cpu/cpu.stat',
  ]);
});

test('parseCgroupFile: hybrid hosts: the v1 cpu controller wins over the unified line, which is tried last', () => {
  assert.deepEqual(files('cgroup-hybrid-systemd', '/c').slice(0, 2), [
    'v1 /c/cpu,cpuacct/user.slice/user-1000.slice/session-3.scope/cpu.stat',
    'v1 /c/cpu/user.slice/user-1000.slice/session-3.scope/cpu.stat',
  ]);
  // This VM: `cpu` mounted alone, `cpuacct` on a line of its own.
  const vm = parseCgroupFile(fixture('cgroup-hybrid-this-vm'));
  assert.deepEqual(vm.v1Cpu, { controllers: ['cpu'], path: '/loopguard-test' });
  assert.deepEqual(vm.v2, { path: '/' });
  assert.deepEqual(files('cgroup-hybrid-this-vm', '/c'), [
    'v1 /c/cpu/loopguard-test/cpu.stat',
    'v1 /c/cpu,cpuacct/loopguard-test/cpu.stat',
    'v1 /c/cpu/cpu.stat',
    'v1 /c/cpu,cpuacct/cpu.stat',
    'v2 /c/cpu.stat',
    'v2 /c/unified/cpu.stat',
  ]);
});

test('parseCgroupFile: a path cannot climb out of the cgroup mount', () => {
  assert.deepEqual(cpuStatCandidates({ v1Cpu: null, v2: { path: '/../../etc' } }, '/c')[0], { version: 2, file: '/c/etc/cpu.stat' });
});

test('parseCgroupFile: empty or foreign text is undefined', () => {
  assert.equal(parseCgroupFile(''), undefined);
  assert.equal(parseCgroupFile('hello\nworld\n'), undefined);
});
