import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';

/**
 * Invoice terms, hold sweeping and lazy migration, end to end on the local platform (holds on by
 * default, no signup credit, the test payment provider, the embedded ledger).
 *
 * Paying a bill needs a month that is over, so this suite runs with a fake `Date` (timers stay
 * real and the fake clock advances with them), and moves it to the next month once the jobs ran.
 * The whole platform runs in this process, so the controller and the embedded ledger both see it.
 */
let platform: Platform;
let api: Api;
const saved = { ...process.env };

beforeAll(async () => {
  jest.useFakeTimers({
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
    advanceTimers: true,
  });
  Object.assign(process.env, { SIGNUP_CREDIT: '0', OPERATOR_USER_IDS: '' });
  delete process.env.BALANCE_HOLDS;
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-invoice-')), log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  jest.useRealTimers();
  for (const k of ['SIGNUP_CREDIT', 'BALANCE_HOLDS', 'OPERATOR_USER_IDS']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
}, 60_000);

/** The price cap of the test functions: every run reaches it at the prices published below. */
const MAX_PRICE = 10_000_000;
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };

async function account(dev: Api) {
  await platform.flushLedger();
  return (await dev.get('/account')).body;
}

async function settled(dev: Api, jobIds: string[]) {
  return eventually(
    'the jobs to settle on the ledger',
    async () => {
      await platform.flushLedger();
      const views = await Promise.all(jobIds.map(async (id) => (await dev.get(`/jobs/${id}`)).body));
      return views.every((j) => j.paid !== undefined && j.cost !== undefined) ? views : undefined;
    },
    120_000,
  );
}

let operator: { api: Api; userId: string };

test('holds are on by default; a hold its job left behind is released by the reaper; an account from before holds is migrated, not refused', async () => {
  operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = operator.userId;
  // Expensive enough that every run hits the function's price cap.
  expect((await operator.api.post('/operator/prices', { vcpuMs: 1_000_000, mbMs: 100_000 })).status).toBe(201);
  const dev = await newUser(api, ['developer']);
  const big = (
    await dev.api.post('/functions', {
      name: 'big',
      image: platform.images.sha256,
      mode: 'async',
      maxPrice: MAX_PRICE,
      resources: { ...resources, memoryMb: 8192 },
    })
  ).body;
  // Holds are on without BALANCE_HOLDS: no balance, no invocation.
  expect((await dev.api.post(`/functions/${big.functionId}/invocations`, { input: 'x' })).status).toBe(402);

  expect((await dev.api.post('/account/top-ups', { amount: 2 * MAX_PRICE, reference: 'sweep-1' })).status).toBe(201);
  await eventually('the top-up to reach the read model', async () => ((await account(dev.api)).available === 2 * MAX_PRICE ? true : undefined));

  // A job that waits (no provider has 8 GB), cancelled: its hold goes back.
  const queued = (await dev.api.post(`/functions/${big.functionId}/invocations`, { input: 'x' })).body;
  expect(queued.status).toBe('QUEUED');
  expect((await account(dev.api)).held).toBe(MAX_PRICE);
  expect((await dev.api.post(`/jobs/${queued.jobId}/cancel`)).body.status).toBe('CANCELLED');
  expect((await account(dev.api)).held).toBe(0);

  // The hold comes back as if a crash had lost its release (the job ended, the hold item stayed).
  const { DynamoBalanceStore } = await import('../../lambdas/adapters/dynamo/balances');
  const balances = new DynamoBalanceStore(platform.env.BALANCES_TABLE as string);
  expect(await balances.placeHold(dev.userId, queued.jobId, MAX_PRICE, new Date().toISOString())).toBe(true);
  expect(await balances.account(dev.userId)).toMatchObject({ held: MAX_PRICE, available: MAX_PRICE });
  // Nobody asks: the reaper's timer releases it (platform.sweep only waits for a run).
  const after = await eventually('the reaper to release the hold of the cancelled job', async () => {
    const a = await balances.account(dev.userId);
    return a?.held === 0 ? a : undefined;
  });
  expect(after).toMatchObject({ balance: 2 * MAX_PRICE, available: 2 * MAX_PRICE, held: 0 });
  expect((await platform.sweep()).holdsReleased).toBe(0);

  // An account item from before holds (no `available`, no revision) is migrated on its next hold.
  const { dynamo } = await import('../../lambdas/adapters/clients');
  const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
  await dynamo.send(
    new UpdateCommand({
      TableName: platform.env.BALANCES_TABLE,
      Key: { accountId: dev.userId },
      UpdateExpression: 'REMOVE available, rev, owed, terms, creditLimit',
    }),
  );
  expect(await balances.account(dev.userId)).toMatchObject({ balance: 2 * MAX_PRICE, available: 2 * MAX_PRICE, held: 0, terms: 'prepaid' });
  const again = await dev.api.post(`/functions/${big.functionId}/invocations`, { input: 'y' });
  expect(again.status).toBe(202);
  expect(await balances.account(dev.userId)).toMatchObject({ balance: 2 * MAX_PRICE, available: MAX_PRICE, held: MAX_PRICE });
  expect((await dev.api.post(`/jobs/${again.body.jobId}/cancel`)).body.status).toBe('CANCELLED');
  expect(await account(dev.api)).toMatchObject({ balance: 2 * MAX_PRICE, available: 2 * MAX_PRICE, held: 0 });
}, 300_000);

test('invoice terms: jobs beyond the balance up to the credit limit, the bill of a closed month paid once (also when two requests race), the provider paid per job', async () => {
  const dev = await newUser(api, ['developer']);
  const provider = api.as(platform.provider!.token);
  const providerId = platform.provider!.providerId;
  const earnedBefore = (await provider.get(`/providers/${providerId}/earnings?by=function`)).body.total as number;
  const fn = (await dev.api.post('/functions', { name: 'sha', image: platform.images.sha256, mode: 'async', maxPrice: MAX_PRICE, resources })).body;

  // Only the operator sets terms; they apply once the ledger commits them.
  expect((await dev.api.put(`/operator/accounts/${dev.userId}/terms`, { terms: 'invoice', creditLimit: 3 * MAX_PRICE })).status).toBe(403);
  const set = await operator.api.put(`/operator/accounts/${dev.userId}/terms`, { terms: 'invoice', creditLimit: 3 * MAX_PRICE });
  expect(set.status).toBe(202);
  expect(set.body).toMatchObject({ accountId: dev.userId, terms: 'invoice', creditLimit: 3 * MAX_PRICE, status: 'pending' });
  const onTerms = await eventually('the terms to reach the read model', async () => {
    const a = await account(dev.api);
    return a.terms === 'invoice' ? a : undefined;
  });
  expect(onTerms).toMatchObject({ balance: 0, terms: 'invoice', creditLimit: 3 * MAX_PRICE, owed: 0, available: 3 * MAX_PRICE, held: 0 });

  // With a balance of 0: three jobs run on credit, the fourth of four concurrent ones is refused.
  const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => dev.api.post(`/functions/${fn.functionId}/invocations`, { input: `job ${i}` })));
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 402);
  expect(accepted).toHaveLength(3);
  expect(refused).toHaveLength(1);
  expect(refused[0]!.body.error).toMatchObject({ code: 'insufficient_funds', terms: 'invoice', required: MAX_PRICE, available: 0 });
  expect(refused[0]!.body.error.message).toMatch(/credit limit/);
  const jobs = await settled(
    dev.api,
    accepted.map((a) => a.body.jobId),
  );
  for (const job of jobs) expect(job).toMatchObject({ status: 'SUCCEEDED', paid: true, cost: MAX_PRICE });
  const spent = jobs.reduce((s, j) => s + j.cost, 0);
  expect(spent).toBe(3 * MAX_PRICE);
  expect(await account(dev.api)).toMatchObject({ balance: 0, ledgerBalance: 0, owed: spent, available: 0, held: 0 });
  // The credit limit holds after settlement too.
  expect((await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'one more' })).status).toBe(402);
  // The provider was paid per job, whatever the developer's terms.
  expect((await provider.get(`/providers/${providerId}/earnings?by=function`)).body.total).toBe(earnedBefore + spent);

  // This month's bill: its jobs, invoiced, not payable until the month is over.
  const month = jobs[0].timings.createdAt.slice(0, 7);
  const open = (await dev.api.get(`/account/bills/${month}`)).body;
  expect(open).toMatchObject({ month, status: 'open', terms: 'invoice', payable: false, jobs: 3, total: spent, invoiced: spent, amountDue: 0 });
  expect(open.lines).toEqual([expect.objectContaining({ functionId: fn.functionId, jobs: 3, cost: spent })]);
  const early = await dev.api.post(`/account/bills/${month}/pay`);
  expect(early.status).toBe(409);
  expect(early.body.error.message).toMatch(/still open/);

  // The month ends.
  const [year, mon] = month.split('-').map(Number) as [number, number];
  jest.setSystemTime(Date.UTC(year, mon, 1, 0, 5));
  const due = (await dev.api.get(`/account/bills/${month}`)).body;
  expect(due).toMatchObject({ month, status: 'due', terms: 'invoice', payable: true, total: spent, invoiced: spent, amountPaid: 0, amountDue: spent });
  expect((await dev.api.get('/account/bills')).body.items).toEqual([expect.objectContaining({ month, status: 'due', payable: true, amountDue: spent })]);

  // Not enough balance: 402 naming the amount; nothing is queued.
  const short = await dev.api.post(`/account/bills/${month}/pay`);
  expect(short.status).toBe(402);
  expect(short.body.error).toMatchObject({ code: 'insufficient_funds', field: 'amount', required: spent, balance: 0 });
  expect(short.body.error.message).toContain(String(spent));

  const extra = 1234;
  expect((await dev.api.post('/account/top-ups', { amount: spent + extra, reference: 'pay-the-bill' })).status).toBe(201);
  await eventually('the top-up to reach the read model', async () => ((await account(dev.api)).balance === spent + extra ? true : undefined));
  // A top-up does not raise an invoice account's credit.
  expect((await account(dev.api)).available).toBe(0);

  // Two pay requests race: both are answered with the same receipt, the bill is paid once.
  const [a, b] = await Promise.all([dev.api.post(`/account/bills/${month}/pay`), dev.api.post(`/account/bills/${month}/pay`)]);
  expect([a.status, b.status]).toEqual([202, 202]);
  expect(a.body).toEqual(b.body);
  expect(a.body).toMatchObject({ accountId: dev.userId, month, amount: spent, reference: `bill:${dev.userId}:${month}`, status: 'pending' });
  const paid = await eventually('the payment to reach the read model', async () => {
    const acc = await account(dev.api);
    return acc.owed === 0 ? acc : undefined;
  });
  expect(paid).toMatchObject({ balance: extra, ledgerBalance: extra, owed: 0, available: 3 * MAX_PRICE, held: 0 });
  const bill = (await dev.api.get(`/account/bills/${month}`)).body;
  expect(bill).toMatchObject({ status: 'paid', payable: false, invoiced: spent, amountPaid: spent, amountDue: 0, total: spent });
  // Paying again charges nothing and answers the same receipt, now paid.
  const replay = await dev.api.post(`/account/bills/${month}/pay`);
  expect(replay.status).toBe(200);
  expect(replay.body).toMatchObject({ month, amount: spent, reference: a.body.reference, status: 'paid', replayed: true });
  await platform.flushLedger();
  expect((await account(dev.api)).balance).toBe(extra);
  const history = (await dev.api.get('/account/history?limit=200')).body.items;
  expect(history.filter((e: any) => e.kind === 'billpayment')).toEqual([
    expect.objectContaining({ amount: -spent, direction: 'debit', reference: `bill:${dev.userId}:${month}` }),
  ]);

  // The read model and the ledger agree: balances, what is owed, every job's cost.
  const reconciliation = (await dev.api.get('/account/reconciliation')).body;
  expect(reconciliation).toMatchObject({ accounts: 1, jobs: 3, differences: [] });
  expect((await provider.get(`/providers/${providerId}/earnings?by=function`)).body.total).toBe(earnedBefore + spent);

  // Credit is back: the account runs jobs again.
  expect((await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'next month' })).status).toBe(202);
}, 400_000);
