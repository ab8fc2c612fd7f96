import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';

/**
 * Billing end to end on the local platform (holds on, no signup credit, the test payment
 * provider): top-ups credit once per reference; a failed or cancelled job charges nothing; a
 * balance for exactly N jobs admits N of N+1 concurrent invocations and refuses the rest with 402;
 * the month's statement equals its settled jobs; history and provider earnings come from the ledger.
 */
let platform: Platform;
let api: Api;
const saved = { ...process.env };

beforeAll(async () => {
  Object.assign(process.env, { SIGNUP_CREDIT: '0', BALANCE_HOLDS: 'on', OPERATOR_USER_IDS: '' });
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-billing-')), log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  for (const k of ['SIGNUP_CREDIT', 'BALANCE_HOLDS', 'OPERATOR_USER_IDS']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
}, 60_000);

const TOP_UP = 100_000_000;
/** The price cap of the test function: every run reaches it at the prices published below. */
const MAX_PRICE = 25_000_000;
const N = TOP_UP / MAX_PRICE;

async function settled(dev: Api, jobIds: string[]) {
  return eventually(
    'the jobs to settle on the ledger',
    async () => {
      await platform.flushLedger();
      const views = await Promise.all(jobIds.map(async (id) => (await dev.get(`/jobs/${id}`)).body));
      return views.every((j) => j.paid !== undefined && j.cost !== undefined) ? views : undefined;
    },
    60_000,
  );
}

async function account(dev: Api) {
  await platform.flushLedger();
  return (await dev.get('/account')).body;
}

test('billing: top-ups, holds, refusals at N+1, free failures and cancels, statements, history, earnings', async () => {
  const operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = operator.userId;
  const dev = await newUser(api, ['developer']);

  // The operator publishes billing units version 2: expensive enough that every run hits the cap.
  expect((await dev.api.post('/operator/prices', { vcpuMs: 1_000_000, mbMs: 100_000 })).status).toBe(403);
  const published = await operator.api.post('/operator/prices', { vcpuMs: 1_000_000, mbMs: 100_000 });
  expect(published.status).toBe(201);
  expect(published.body).toMatchObject({ version: 2, vcpuMs: 1_000_000, mbMs: 100_000 });
  expect((await dev.api.get('/prices')).body.current).toEqual({ version: 2, vcpuMs: 1_000_000, mbMs: 100_000 });

  const fn = (
    await dev.api.post('/functions', { name: 'sha', image: platform.images.sha256, mode: 'async', maxPrice: MAX_PRICE, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })
  ).body;
  expect(fn.functionId).toBeDefined();

  // No balance: refused with 402 and a reason.
  const broke = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'x' });
  expect(broke.status).toBe(402);
  expect(broke.body.error).toMatchObject({ code: 'insufficient_funds', required: MAX_PRICE, available: 0 });
  expect(broke.body.error.message).toMatch(/insufficient funds.*top up/);

  // Top-up: idempotent per reference; another amount under it is a conflict; the magic amount is declined.
  const first = await dev.api.post('/account/top-ups', { amount: TOP_UP, reference: 'order-1' });
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ status: 'approved', amount: TOP_UP, reference: 'order-1', replayed: false });
  const again = await dev.api.post('/account/top-ups', { amount: TOP_UP, reference: 'order-1' });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ status: 'approved', replayed: true, paymentId: first.body.paymentId });
  expect((await dev.api.post('/account/top-ups', { amount: 5, reference: 'order-1' })).status).toBe(409);
  const declined = await dev.api.post('/account/top-ups', { amount: 4_020_000, reference: 'order-2' });
  expect(declined.status).toBe(402);
  expect(declined.body.error.message).toMatch(/declined/);
  expect((await dev.api.post('/account/top-ups', { amount: -1, reference: 'x' })).body.error.field).toBe('amount');

  const funded = await eventually('the top-up to reach the read model', async () => {
    const a = await account(dev.api);
    return a.balance > 0 ? a : undefined;
  });
  expect(funded).toMatchObject({ balance: TOP_UP, ledgerBalance: TOP_UP, available: TOP_UP, held: 0 });
  const topUps = (await dev.api.get('/account/history')).body.items.filter((e: any) => e.kind === 'topup');
  expect(topUps).toEqual([expect.objectContaining({ amount: TOP_UP, direction: 'credit', topUpReference: `topup:${dev.userId}:order-1` })]);

  // A failed job charges nothing; its hold comes back.
  const failing = (
    await dev.api.post('/functions', { name: 'fail', image: platform.images.fail, mode: 'async', maxPrice: MAX_PRICE, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })
  ).body;
  const failedJob = (await dev.api.post(`/functions/${failing.functionId}/invocations`, { input: 'x' })).body;
  expect(failedJob.jobId).toBeDefined();
  const [failedView] = await settled(dev.api, [failedJob.jobId]);
  expect(failedView).toMatchObject({ status: 'FAILED', cost: 0 });
  // A cancelled job (it waits: no provider here has 8 GB) charges nothing either.
  const big = (
    await dev.api.post('/functions', { name: 'big', image: platform.images.sha256, mode: 'async', maxPrice: MAX_PRICE, resources: { vcpu: 0.5, memoryMb: 8192, timeoutS: 10 } })
  ).body;
  const queued = (await dev.api.post(`/functions/${big.functionId}/invocations`, { input: 'x' })).body;
  expect(queued.status).toBe('QUEUED');
  expect((await account(dev.api)).held).toBe(MAX_PRICE);
  expect((await dev.api.post(`/jobs/${queued.jobId}/cancel`)).body.status).toBe('CANCELLED');
  expect(await account(dev.api)).toMatchObject({ balance: TOP_UP, available: TOP_UP, held: 0 });

  // A balance for exactly N jobs: N of N+1 concurrent invocations are accepted, the other gets 402.
  const answers = await Promise.all(Array.from({ length: N + 1 }, (_, i) => dev.api.post(`/functions/${fn.functionId}/invocations`, { input: `job ${i}` })));
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 402);
  expect(accepted).toHaveLength(N);
  expect(refused).toHaveLength(1);
  expect(refused[0]!.body.error.code).toBe('insufficient_funds');
  const jobs = await settled(
    dev.api,
    accepted.map((a) => a.body.jobId),
  );
  for (const job of jobs) expect(job).toMatchObject({ status: 'SUCCEEDED', paid: true, cost: MAX_PRICE });
  const ledgerRecord = (await dev.api.get(`/jobs/${jobs[0].jobId}/ledger`)).body.record;
  expect(ledgerRecord.billing).toEqual({ version: 2, vcpuMs: 1_000_000, mbMs: 100_000 });
  expect(await account(dev.api)).toMatchObject({ balance: 0, ledgerBalance: 0, available: 0, held: 0 });
  expect((await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'one more' })).status).toBe(402);

  // The month's statement equals the month's settled jobs.
  const month = jobs[0].timings.createdAt.slice(0, 7);
  const bill = (await dev.api.get(`/account/bills/${month}`)).body;
  const spent = jobs.reduce((s, j) => s + j.cost, 0);
  expect(bill).toMatchObject({ month, jobs: N, total: spent, amountDue: 0, lines: [{ functionId: fn.functionId, jobs: N, cost: spent }] });
  expect(bill.runtimeMs).toBe(jobs.reduce((s, j) => s + j.runtimeMs, 0));
  expect((await dev.api.get('/account/bills')).body.items).toEqual([expect.objectContaining({ month, total: spent, jobs: N })]);
  const csv = await dev.api.call('GET', `/account/bills/${month}?format=csv`);
  expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
  // Each line names the function by its id and its name (#22).
  expect(csv.body).toContain(`${month},${fn.functionId},${fn.name},${N},${bill.runtimeMs},${spent}`);
  expect(csv.body).toContain(`${month},TOTAL,,${N},${bill.runtimeMs},${spent}`);
  expect((await dev.api.get('/account/bills/2024-13')).body.error.field).toBeDefined();
  expect((await dev.api.post(`/account/bills/${month}/pay`)).status).toBe(409);

  // History: newest first, paginated, every debit names its job.
  const page1 = (await dev.api.get('/account/history?limit=2')).body;
  expect(page1.items).toHaveLength(2);
  const all = [...page1.items];
  for (let next = page1.next; next; ) {
    const page = (await dev.api.get(`/account/history?limit=2&cursor=${next}`)).body;
    all.push(...page.items);
    next = page.next;
  }
  expect(all).toHaveLength(N + 1);
  expect(all[all.length - 1]).toMatchObject({ kind: 'topup', amount: TOP_UP });
  expect(all.filter((e) => e.direction === 'debit').map((e) => e.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());

  // The provider earned what the developer paid, per function and per day.
  const provider = api.as(platform.provider!.token);
  const byFunction = (await provider.get(`/providers/${platform.provider!.providerId}/earnings?by=function`)).body;
  expect(byFunction).toMatchObject({ total: spent, items: [{ functionId: fn.functionId, name: fn.name, jobs: N, earned: spent }] });
  const byDay = (await provider.get(`/providers/${platform.provider!.providerId}/earnings?by=day`)).body;
  expect(byDay.total).toBe(spent);
  expect((await dev.api.get(`/providers/${platform.provider!.providerId}/earnings`)).status).toBe(404);
}, 300_000);
