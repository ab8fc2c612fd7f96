import { eventually, newUser } from '../support/api';
import { startAgent, startTestPlatform, TestPlatform } from '../scheduling/support';

/**
 * Issue #18 item 1, end to end: the real platform (handlers, DynamoDB Local, fauxqs, the embedded
 * ledger) and a real provider agent on the Docker engine run the `limits` example, which runs into
 * its processes, memory and scratch limits and exits 0. The job succeeds and is billed (README,
 * "Limits": the exit status decides; a limit that did not stop the function changes nothing of
 * the price), and both the job and its log say each limit in words.
 */
let t: TestPlatform;
let agent: Awaited<ReturnType<typeof startAgent>>;

beforeAll(async () => {
  t = await startTestPlatform({});
  // Small limits, so that reaching them is quick and cheap: 32 processes, 16 MB of /tmp (which the
  // kernel counts as the container's memory: the function's 128 MB hold it).
  agent = await startAgent(t.api, { vcpu: 2, memoryMb: 512 }, { limits: { pidsLimit: 32, tmpfsMb: 16 } });
}, 600_000);

afterAll(async () => {
  await agent?.agent.stop({ force: true });
  await t?.stop();
}, 60_000);

test('#18 item 1: a function that hits its limits and exits 0 is SUCCEEDED and billed, and the job and its log name each limit', async () => {
  const dev = await newUser(t.api, ['developer']);
  const resources = { vcpu: 0.5, memoryMb: 128, timeoutS: 30 };
  const fn = await dev.api.post('/functions', { name: 'limits', image: t.platform.images.limits, mode: 'sync', resources });
  expect(fn.status).toBe(201);

  const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'processes\nmemory\nscratch\n', waitS: 60 });
  expect(res).toMatchObject({ status: 200, body: { status: 'SUCCEEDED', exitCode: 0 } });
  const job = res.body;
  expect(job.limits.map((l: { limit: string }) => l.limit)).toEqual(['memory', 'processes', 'scratch']);
  expect(job.limits[0].detail).toBe('the kernel killed 1 process of the function for memory (limit 128 MB); the function went on');
  expect(job.limits[1].detail).toMatch(/^the function tried to run more than 32 processes and threads at once: the kernel refused \d+ new ones?$/);
  expect(job.limits[2].detail).toMatch(/^the scratch space \/tmp \(16 MB\) was full/);
  expect(job.limitsUnwatched).toBeUndefined();

  const log = await (await fetch(job.logUrl)).text();
  for (const hit of job.limits) expect(log).toContain(`[chainfaas: limit reached (${hit.limit}): ${hit.detail}]`);

  // Billed like any job that exited 0: settled on the ledger, paid to the provider.
  const settled = await eventually('the job to be settled', async () => {
    const j = (await dev.api.get(`/jobs/${job.jobId}`)).body;
    return j.cost !== undefined ? j : undefined;
  });
  expect(settled).toMatchObject({ status: 'SUCCEEDED', paid: true });
  expect(settled.cost).toBeGreaterThan(0);
  const ledger = (await dev.api.get(`/jobs/${job.jobId}/ledger`)).body;
  expect(ledger.record).toMatchObject({ status: 'succeeded', cost: settled.cost, paid: true });
}, 120_000);

test('#18 item 1: a job that reaches no limit carries none', async () => {
  const dev = await newUser(t.api, ['developer']);
  const fn = await dev.api.post('/functions', {
    name: 'sha',
    image: t.platform.images.sha256,
    mode: 'sync',
    resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 },
  });
  const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'hello', waitS: 60 });
  expect(res).toMatchObject({ status: 200, body: { status: 'SUCCEEDED' } });
  expect(res.body.limits).toBeUndefined();
}, 120_000);
