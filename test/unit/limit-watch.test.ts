import { limitSources, parseCounter, since } from '../../provider-agent/src/limit-watch';

/**
 * Where the agent reads a container's limit counters (provider-agent/src/limit-watch.ts), from
 * `/proc/<pid>/cgroup` as the kernel writes it on cgroup v1 (Docker's cgroupfs driver, this
 * machine) and v2 (systemd driver), and what it says when the pid is not the container's here.
 * The counters themselves are read from a real container in test/agent/runner.test.ts.
 */
const id = 'c0ffee'.padEnd(64, '0');

test('cgroup v1: the pids and memory controllers each name the container’s own directory', () => {
  const text = [`12:pids:/docker/${id}`, `9:memory:/docker/${id}`, `1:name=systemd:/docker/${id}`, `0::/docker/${id}`, ''].join('\n');
  expect(limitSources(text, 4242, id, '/cg')).toEqual({
    pidsEvents: `/cg/pids/docker/${id}/pids.events`,
    memory: { file: `/cg/memory/docker/${id}/memory.oom_control`, key: 'oom_kill' },
    scratch: '/proc/4242/root/tmp',
    unwatched: [],
  });
});

test('cgroup v2: one directory holds pids.events and memory.events', () => {
  expect(limitSources(`0::/system.slice/docker-${id}.scope\n`, 7, id, '/cg')).toEqual({
    pidsEvents: `/cg/system.slice/docker-${id}.scope/pids.events`,
    memory: { file: `/cg/system.slice/docker-${id}.scope/memory.events`, key: 'oom_kill' },
    scratch: '/proc/7/root/tmp',
    unwatched: [],
  });
});

test('a pid whose cgroup does not name the container (another pid namespace, an engine in a VM) is not read at all', () => {
  const sources = limitSources('12:pids:/user.slice\n0::/user.slice/session-1.scope\n', 7, id, '/cg');
  expect(sources.pidsEvents).toBeUndefined();
  expect(sources.memory).toBeUndefined();
  expect(sources.scratch).toBeUndefined();
  expect(sources.unwatched.map((u) => u.limit)).toEqual(['memory', 'processes', 'scratch']);
  expect(sources.unwatched[0]!.why).toMatch(/not visible to the agent/);
});

test('a cgroup v1 hierarchy without a pids controller names processes as unwatched', () => {
  const sources = limitSources(`9:memory:/docker/${id}\n`, 7, id, '/cg');
  expect(sources.pidsEvents).toBeUndefined();
  expect(sources.unwatched).toEqual([{ limit: 'processes', why: "the container's cgroup has no pids controller here" }]);
});

test('counters are read by key from the kernel’s files, and a job reads their difference', () => {
  expect(parseCounter('max 537\n', 'max')).toBe(537);
  expect(parseCounter('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'oom_kill')).toBe(3);
  expect(parseCounter('low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n', 'oom_kill')).toBe(2);
  expect(parseCounter('oom_kill_disable 0\n', 'oom_kill')).toBeUndefined();
  expect(since({ processesRefused: 10, oomKills: 1, scratchFullSamples: 0 }, { processesRefused: 25, oomKills: 1, scratchFullSamples: 2 })).toEqual({
    processesRefused: 15,
    oomKills: 0,
    scratchFullSamples: 2,
  });
});
