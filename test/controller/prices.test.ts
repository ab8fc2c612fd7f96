import type * as Billing from '../../lambdas/core/use-cases/billing';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Holds from '../../lambdas/core/use-cases/holds';
import type * as Invocations from '../../lambdas/core/use-cases/invocations';
import { Controller, definition, dynamoCommandsOf, startController } from './harness';

/**
 * Issue #16: an invocation no longer reads the published price list each time; a process keeps
 * what it read for PRICES_CACHE_MS. Against DynamoDB Local: reads counted on the wire, a list
 * published by this process in force at once, one published by another process (written to the
 * store directly) within the bound.
 */
let c: Controller;
let billing: typeof Billing;
let functions: typeof Functions;
let holds: typeof Holds;
let invocations: typeof Invocations;

beforeAll(async () => {
  c = await startController();
  billing = await import('../../lambdas/core/use-cases/billing');
  functions = await import('../../lambdas/core/use-cases/functions');
  holds = await import('../../lambdas/core/use-cases/holds');
  invocations = await import('../../lambdas/core/use-cases/invocations');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

/** Reads of the current price list (`price#current`) that `run` sends. */
async function priceReads(run: () => Promise<unknown>): Promise<number> {
  return (await dynamoCommandsOf(run)).filter(({ input }) => JSON.stringify(input).includes('price#current')).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('invocations within PRICES_CACHE_MS read the price list once; this process publishing is in force at once, another process within the bound', async () => {
  const operator = await c.newUser(['developer']);
  process.env.OPERATOR_USER_IDS = operator.user.userId;
  const fn = await functions.createFunction(c.deps, operator.user, definition());
  const invoke = async () => (await invocations.invoke(c.deps, { user: operator.user }, fn.functionId, { mode: 'async' })).job;

  await sleep(holds.PRICES_CACHE_MS);
  let jobs: Awaited<ReturnType<typeof invoke>>[] = [];
  expect(await priceReads(async () => (jobs = [await invoke(), await invoke(), await invoke()]))).toBe(1);
  const before = jobs[0]!.billingUnits!.version;
  expect(jobs.map((j) => j.billingUnits?.version)).toEqual([before, before, before]);

  // Published here: the next job is created under it, without waiting for the bound.
  const published = await billing.publishPrices(c.deps, operator.user, { vcpuMs: 20, mbMs: 2 });
  expect(published.version).toBe(before + 1);
  expect((await invoke()).billingUnits).toMatchObject({ version: before + 1, vcpuMs: 20, mbMs: 2 });

  // Published by another process (the store written directly): in force here within the bound.
  expect(await c.deps.billingStore!.publishPrices({ version: before + 2, vcpuMs: 30, mbMs: 3, publishedAt: new Date().toISOString(), publishedBy: operator.user.userId })).toBe(true);
  expect((await invoke()).billingUnits?.version).toBe(before + 1);
  await sleep(holds.PRICES_CACHE_MS);
  expect((await invoke()).billingUnits).toMatchObject({ version: before + 2, vcpuMs: 30, mbMs: 3 });
  // What GET /prices shows is read fresh.
  expect((await billing.listPrices(c.deps)).current.version).toBe(before + 2);
}, 60_000);
