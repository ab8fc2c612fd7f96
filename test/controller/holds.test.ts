import type { BalanceStore } from '../../lambdas/core/ports';
import { dynamoCommandsOf, startController, writeJob, type Controller } from './harness';

/**
 * Holds against DynamoDB Local (issue #16): a settlement releases its job's hold named by the job
 * (its developer and `holdAmount`), without reading the hold first, and still exactly once; a
 * hold that is not there as named is released as read, never from the wrong account or amount.
 */
let c: Controller;
let balances: Required<Pick<BalanceStore, 'placeHold' | 'releaseHold' | 'account'>> & BalanceStore;

beforeAll(async () => {
  c = await startController();
  balances = c.deps.balances as typeof balances;
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

let tx = 0;
/** An account with `credit` on the read model, as the ledger writer would apply a top-up. */
async function account(credit: number): Promise<string> {
  const accountId = `usr_holds${++tx}`;
  expect(await balances.apply(`tx-holds-${tx}`, new Map([[accountId, credit]]), tx)).toBe(true);
  return accountId;
}

test('a hold named by its job is released once, with no read; a wrong name releases nothing of another account or amount', async () => {
  const a = await account(1_000);
  const b = await account(1_000);
  expect(await balances.placeHold(a, 'job_h1', 300, new Date().toISOString())).toBe(true);
  expect(await balances.placeHold(b, 'job_h2', 200, new Date().toISOString())).toBe(true);
  expect((await balances.account(a))?.available).toBe(700);

  // Named wrongly (another account, another amount): nothing moves from b, and the hold is released as it is.
  expect(await balances.releaseHold('job_h1', { holder: b, amount: 300 })).toBe(300);
  expect((await balances.account(a))?.available).toBe(1_000);
  expect((await balances.account(b))?.available).toBe(800);
  expect(await balances.releaseHold('job_h2', { holder: b, amount: 999 })).toBe(200);
  expect((await balances.account(b))?.available).toBe(1_000);

  // Named rightly: released once, however often asked.
  expect(await balances.placeHold(a, 'job_h3', 400, new Date().toISOString())).toBe(true);
  let released: number | undefined;
  const sent = await dynamoCommandsOf(async () => (released = await balances.releaseHold('job_h3', { holder: a, amount: 400 })));
  expect(released).toBe(400);
  expect(sent.map(({ name }) => name)).toEqual(['TransactWriteCommand']);
  expect(await balances.releaseHold('job_h3', { holder: a, amount: 400 })).toBeUndefined();
  expect(await balances.releaseHold('job_h3')).toBeUndefined();
  expect((await balances.account(a))?.available).toBe(1_000);
}, 60_000);

test("a settlement releases the hold its job names (the job's developer and holdAmount, as recordSettlement found them)", async () => {
  const { applyMovements } = await import('../../lambdas/core/use-cases/balances');
  const dev = await account(5_000);
  const user = { userId: dev, email: `${dev}@example.com`, roles: ['developer' as const], passwordHash: '', createdAt: new Date().toISOString() };
  const job = await writeJob(c, { jobId: 'job_holdsSettle', user, functionId: 'fn_holds', status: 'SUCCEEDED', createdAt: new Date().toISOString() }, { holdAmount: 1_500 });
  expect(await balances.placeHold(dev, job.jobId, 1_500, new Date().toISOString())).toBe(true);
  const released: unknown[] = [];
  const spying = new Proxy(balances, {
    get: (target, prop, receiver) =>
      prop === 'releaseHold' ? (...args: unknown[]) => (released.push(args), (target.releaseHold as (...a: unknown[]) => unknown)(...args)) : Reflect.get(target, prop, receiver),
  });
  const settlement = { jobId: job.jobId, developerId: dev, providerId: 'prv_holds', payerAccountId: dev, cost: 700, paid: true };
  expect(await applyMovements(spying, c.deps.jobs, { txId: 'tx-holds-settle', blockNumber: 100, timestamp: new Date().toISOString(), settlements: [settlement], topUps: [] })).toBe(true);
  expect(released).toEqual([[job.jobId, { holder: dev, amount: 1_500 }]]);
  // 5,000 − 700 settled; the 1,500 held came back.
  expect((await balances.account(dev))?.available).toBe(4_300);
  expect((await c.deps.jobs.getJob(job.jobId))?.cost).toBe(700);
}, 60_000);
