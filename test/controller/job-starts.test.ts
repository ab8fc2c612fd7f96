import type { BalanceStore } from '../../lambdas/core/ports';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Invocations from '../../lambdas/core/use-cases/invocations';
import { Controller, definition, dynamoCommandsOf, onlineProvider, rejects, startController } from './harness';

/**
 * Issue #16: a job that finds room as it is created is written once — its record already ASSIGNED,
 * its hold, its `CreateJob` outbox entry and its idempotency record in one DynamoDB transaction
 * across three tables — instead of four writes one after another. Against DynamoDB Local, with
 * holds on: what is written, what a refused hold leaves (nothing, and the provider's capacity
 * back), and two racing requests with one idempotency key (one job, one hold, one reservation).
 */
let c: Controller;
let functions: typeof Functions;
let invocations: typeof Invocations;
let balances: Required<Pick<BalanceStore, 'account'>> & BalanceStore;
let providerId: string;

beforeAll(async () => {
  c = await startController({ BALANCE_HOLDS: 'on', SIGNUP_CREDIT: '0' });
  functions = await import('../../lambdas/core/use-cases/functions');
  invocations = await import('../../lambdas/core/use-cases/invocations');
  balances = c.deps.balances as typeof balances;
  providerId = await onlineProvider(c, 'starts');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

let tx = 0;
/** A developer with a function and `credit` on the balances read model (as the ledger writer applies a top-up). */
async function developer(credit: number) {
  const { user } = await c.newUser();
  expect(await c.deps.balances.apply(`tx-starts-${++tx}`, new Map([[user.userId, credit]]), tx)).toBe(true);
  const fn = await functions.createFunction(c.deps, user, definition());
  return { user, fn, caller: { user } };
}

/** The DynamoDB commands `run` sends: each command's name and the tables it writes. */
async function commandsOf(run: () => Promise<unknown>): Promise<{ name: string; tables: string[] }[]> {
  return (await dynamoCommandsOf(run)).map(({ name, input }) => {
    const { TableName, TransactItems } = input as { TableName?: string; TransactItems?: Record<string, { TableName: string }>[] };
    return { name, tables: TransactItems ? TransactItems.map((item) => Object.values(item)[0]!.TableName) : [TableName ?? ''] };
  });
}

const reserved = async () => (await c.deps.providers.getProvider(providerId))?.reservedVcpuMilli;
const outboxEntriesOf = async (jobId: string) => (await c.deps.outbox.waiting(1000)).entries.filter((e) => e.stream === jobId);

test('a job placed as it is created: record (ASSIGNED), hold and CreateJob in one transaction, and no other write of the job', async () => {
  const { fn, caller, user } = await developer(10_000_000);
  const before = await reserved();
  let job: Awaited<ReturnType<typeof invocations.invoke>>['job'] | undefined;
  const commands = await commandsOf(async () => {
    job = (await invocations.invoke(c.deps, caller, fn.functionId, { input: { n: 1 }, mode: 'async' })).job;
  });
  const stored = await c.deps.jobs.getJob(job!.jobId);
  expect(stored).toMatchObject({ status: 'ASSIGNED', providerId, holdAmount: job!.maxCost, leaseShard: 'l' });
  expect(stored?.waitingShard).toBeUndefined();
  expect((await balances.account(user.userId))?.available).toBe(10_000_000 - job!.maxCost);
  expect((await outboxEntriesOf(job!.jobId)).flatMap((e) => e.events.map((ev) => ev.type))).toEqual(['CreateJob']);
  expect((await reserved())! - before!).toBe(500);

  const writes = commands.filter((cmd) => !['GetCommand', 'QueryCommand', 'BatchGetCommand'].includes(cmd.name));
  const t = (name: string) => c.env[`${name.toUpperCase()}_TABLE`] ?? `cf-test-${name}`;
  expect(writes).toEqual([
    // The provider's capacity, reserved first (a conditional update), then the one transaction.
    { name: 'UpdateCommand', tables: [t('providers')] },
    { name: 'TransactWriteCommand', tables: [t('jobs'), t('balances'), t('balances'), t('outbox')] },
  ]);
}, 60_000);

test('a hold the balance does not cover: 402, nothing written, and the capacity reserved for it given back', async () => {
  const { fn, caller, user } = await developer(10);
  const before = await reserved();
  const error = await rejects(invocations.invoke(c.deps, caller, fn.functionId, { input: { n: 2 }, mode: 'async' }), 'insufficient_funds');
  expect(error.message).toMatch(/has 10 available/);
  expect(await reserved()).toBe(before);
  expect((await balances.account(user.userId))?.available).toBe(10);
  const { items } = await c.deps.jobs.searchJobs({ developerId: user.userId, limit: 10 });
  expect(items).toEqual([]);
}, 60_000);

test('two racing requests with one idempotency key: one job, one hold, one reservation; the other is the replay', async () => {
  const { fn, caller, user } = await developer(10_000_000);
  const before = await reserved();
  const body = { input: { n: 3 }, mode: 'async' };
  const [a, b] = await Promise.all([
    invocations.invoke(c.deps, caller, fn.functionId, body, { idempotencyKey: 'race-1' }),
    invocations.invoke(c.deps, caller, fn.functionId, body, { idempotencyKey: 'race-1' }),
  ]);
  expect(a.job.jobId).toBe(b.job.jobId);
  expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
  expect((await reserved())! - before!).toBe(500);
  expect((await balances.account(user.userId))?.available).toBe(10_000_000 - a.job.maxCost);
  const { items } = await c.deps.jobs.searchJobs({ developerId: user.userId, limit: 10 });
  expect(items.map((j) => j.jobId)).toEqual([a.job.jobId]);
  expect(await outboxEntriesOf(a.job.jobId)).toHaveLength(1);
}, 60_000);
