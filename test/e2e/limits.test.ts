import { eventually, newUser } from '../support/api';
import { jobCost } from '../../lambdas/core/pricing';
import { newOperator, startAgent, startTestPlatform, TestPlatform } from '../scheduling/support';

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
  // Small limits, so that reaching them is quick and cheap: 32 processes; each function asks for
  // 16 MB or less of /tmp (which the kernel counts as the container's memory: 128 MB hold it).
  agent = await startAgent(t.api, { vcpu: 2, memoryMb: 512 }, { limits: { pidsLimit: 32 } });
}, 600_000);

afterAll(async () => {
  await agent?.agent.stop({ force: true });
  await t?.stop();
}, 60_000);

test('#18 item 1: a function that hits its limits and exits 0 is SUCCEEDED and billed, and the job and its log name each limit', async () => {
  const dev = await newUser(t.api, ['developer']);
  const resources = { vcpu: 0.5, memoryMb: 128, timeoutS: 30, diskMb: 16 };
  const fn = await dev.api.post('/functions', { name: 'limits', image: t.platform.images.limits, mode: 'sync', resources });
  expect(fn.status).toBe(201);

  const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'processes\nmemory\nscratch\n', waitS: 60 });
  expect(res).toMatchObject({ status: 200, body: { status: 'SUCCEEDED', exitCode: 0 } });
  const job = res.body;
  expect(job.limits.map((l: { limit: string }) => l.limit)).toEqual(['memory', 'processes', 'scratch']);
  expect(job.limits[0].detail).toBe('the kernel killed 1 process of the function for memory (limit 128 MB); the function went on');
  expect(job.limits[1].detail).toMatch(/^the function tried to run more than 32 processes and threads at once: the kernel refused \d+ new ones?$/);
  expect(job.limits[2].detail).toMatch(/^disk full: the scratch space \/tmp \(16 MB of disk\) was full/);
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

test('#23: a function that fills its scratch space gets exactly the disk it asked for, ends with the disk limit named, and pays the price list\'s disk unit', async () => {
  // A price list with a disk unit, so the disk shows in the cost.
  const operator = await newOperator(t.api);
  const current = (await operator.get('/prices')).body.current;
  const billing = { version: current.version + 1, vcpuMs: 10, mbMs: 1, diskMbMs: 3 };
  expect((await operator.post('/operator/prices', billing)).status).toBe(201);

  const dev = await newUser(t.api, ['developer']);
  const resources = { vcpu: 0.5, memoryMb: 128, timeoutS: 30, diskMb: 8 };
  const fn = await dev.api.post('/functions', { name: 'fills-disk', image: t.platform.images.limits, mode: 'sync', resources });
  expect(fn.status).toBe(201);
  const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'scratch\n', waitS: 60 });
  expect(res).toMatchObject({ status: 200, body: { status: 'SUCCEEDED', exitCode: 0 } });
  const job = res.body;
  expect(job.limits).toEqual([{ limit: 'scratch', detail: expect.stringMatching(/^disk full: the scratch space \/tmp \(8 MB of disk\) was full/) }]);
  // The log says it too.
  const log = await (await fetch(job.logUrl)).text();
  expect(log).toContain('[chainfaas: limit reached (scratch): disk full');

  // Settled on the ledger at the price list's cost, disk included, for the run time the ledger paid.
  const settled = await eventually('the job to be settled', async () => {
    const j = (await dev.api.get(`/jobs/${job.jobId}`)).body;
    return j.cost !== undefined ? j : undefined;
  });
  const ledger = (await dev.api.get(`/jobs/${job.jobId}/ledger`)).body.record;
  expect(ledger).toMatchObject({ resources: { diskMb: 8 }, billing, paid: true });
  expect(settled.cost).toBe(jobCost(resources, billing, ledger.billedMs));
  expect(settled.cost).toBeGreaterThan(jobCost({ ...resources, diskMb: 0 }, billing, ledger.billedMs));

  // The month's bill shows the disk the job held.
  const bill = (await dev.api.get(`/account/bills/${job.timings.createdAt.slice(0, 7)}`)).body;
  expect(bill.lines).toEqual([expect.objectContaining({ functionId: fn.body.functionId, diskMbMs: 8 * job.runtimeMs })]);
}, 120_000);

test('#23: /tmp holds exactly what the function requested: 7 MiB then 2 MiB more fail in 8 MB, fit in 16 MB', async () => {
  const dev = await newUser(t.api, ['developer']);
  const run = async (name: string, diskMb: number) => {
    const fn = await dev.api.post('/functions', { name, image: t.platform.images.write, mode: 'sync', resources: { vcpu: 0.5, memoryMb: 128, timeoutS: 30, diskMb } });
    expect(fn.status).toBe(201);
    const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: `/tmp/a ${7 * 1024 * 1024}\n/tmp/b ${2 * 1024 * 1024}\n`, waitS: 60 });
    expect(res.status).toBe(200);
    return { status: res.body.status as string, log: res.body.logUrl ? await (await fetch(res.body.logUrl)).text() : '' };
  };
  // The function names each failed write on stderr (examples/write).
  const small = await run('small-disk', 8);
  expect(small.status).toBe('FAILED');
  expect(small.log).toMatch(/\/tmp\/b.*no space left on device/);
  expect(small.log).not.toMatch(/\/tmp\/a.*no space left on device/);
  const large = await run('large-disk', 16);
  expect(large.status).toBe('SUCCEEDED');
  expect(large.log).not.toMatch(/no space left on device/);
}, 120_000);
