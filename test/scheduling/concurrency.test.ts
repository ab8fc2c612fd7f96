import Docker from 'dockerode';
import { newUser } from '../support/api';
import { sleep, startAgent, startTestPlatform, TestPlatform } from './support';

/**
 * 50 invocations at once against two real provider agents (real Docker containers) that can run
 * two jobs each: capacity is reserved with conditional writes, so no provider ever holds more than
 * it offers — checked on the providers table, on each agent and on the Docker engine, every few
 * milliseconds while the burst drains — and every job completes.
 */
let t: TestPlatform;
let agents: Awaited<ReturnType<typeof startAgent>>[] = [];

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_INTERVAL_S: '1', MAX_WAITING_PER_DEVELOPER: '100' });
}, 300_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.agent.stop({ force: true })));
  await t?.stop();
}, 60_000);

test('50 concurrent invocations against providers with limited capacity never oversubscribe, and all complete', async () => {
  const capacity = { vcpu: 1, memoryMb: 512 };
  agents = [await startAgent(t.api, capacity), await startAgent(t.api, capacity)];
  const ours = new Set(agents.map((a) => a.providerId));
  const docker = new Docker();

  // Each job takes half a vCPU: two at a time per provider, four in the cluster.
  const devs = [await newUser(t.api, ['developer']), await newUser(t.api, ['developer'])];
  const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 30 };
  const fns = await Promise.all(devs.map(async (d) => (await d.api.post('/functions', { name: 'sha256', image: t.platform.images.sha256, resources, mode: 'async' })).body.functionId as string));

  const violations: string[] = [];
  let observations = 0;
  let peakReserved = 0;
  let peakContainers = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      for (const p of await t.deps.providers.listProviders()) {
        if (!ours.has(p.providerId)) continue;
        if (p.reservedVcpuMilli > p.capacityVcpuMilli || p.reservedMemoryMb > p.capacityMemoryMb || p.reservedVcpuMilli < 0)
          violations.push(`${p.providerId} reserved ${p.reservedVcpuMilli}m/${p.reservedMemoryMb}MB of ${p.capacityVcpuMilli}m/${p.capacityMemoryMb}MB`);
        peakReserved = Math.max(peakReserved, p.reservedVcpuMilli);
      }
      for (const a of agents) {
        const used = a.agent.status().used;
        if (used.vcpu > capacity.vcpu || used.memoryMb > capacity.memoryMb) violations.push(`agent ${a.providerId} runs ${used.vcpu} vCPU / ${used.memoryMb} MB`);
        const running = await docker.listContainers({ filters: { label: [`chainfaas.agent=${a.providerId}`], status: ['running'] } });
        if (running.length > 2) violations.push(`${running.length} containers running for ${a.providerId}`);
        peakContainers = Math.max(peakContainers, running.length);
      }
      observations++;
      await sleep(20);
    }
  })();

  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => devs[i % 2]!.api.post(`/functions/${fns[i % 2]}/invocations`, { input: `job ${i}` })));
  expect(answers.map((r) => r.status).every((s) => s === 200 || s === 202)).toBe(true);
  const jobIds = answers.map((r) => r.body.jobId as string);
  expect(new Set(jobIds).size).toBe(50);

  const finished = new Map<string, { status: string; providerId: string; attempt: number }>();
  while (finished.size < 50 && Date.now() - started < 240_000) {
    for (const [i, jobId] of jobIds.entries()) {
      if (finished.has(jobId)) continue;
      const job = (await devs[i % 2]!.api.get(`/jobs/${jobId}`)).body;
      if (job.status === 'SUCCEEDED' || job.status === 'FAILED') finished.set(jobId, job);
    }
    await sleep(250);
  }
  watching = false;
  await watch;

  expect(violations).toEqual([]);
  expect([...finished.values()].map((j) => j.status)).toEqual(Array(50).fill('SUCCEEDED'));
  // Both providers worked, each job ran once (first attempt), and the cluster really was full at times.
  expect(new Set([...finished.values()].map((j) => j.providerId))).toEqual(ours);
  expect([...finished.values()].every((j) => j.attempt === 1)).toBe(true);
  expect(peakReserved).toBe(1000);
  expect(peakContainers).toBeGreaterThanOrEqual(1);
  expect(observations).toBeGreaterThan(20);
  // All capacity came back.
  for (const p of await t.deps.providers.listProviders()) if (ours.has(p.providerId)) expect([p.reservedVcpuMilli, p.reservedMemoryMb]).toEqual([0, 0]);
}, 300_000);
