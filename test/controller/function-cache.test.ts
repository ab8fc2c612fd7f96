import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Invocations from '../../lambdas/core/use-cases/invocations';
import { Controller, definition, dynamoCommandsOf, startController } from './harness';

/**
 * Issue #16: an invocation no longer reads its function each time; a process keeps what it read
 * for FUNCTION_CACHE_MS. Against DynamoDB Local: reads counted on the wire, an update or a delete
 * made by this process seen at once, one made by another process (the store written directly)
 * within the bound.
 */
let c: Controller;
let functions: typeof Functions;
let invocations: typeof Invocations;

beforeAll(async () => {
  c = await startController();
  functions = await import('../../lambdas/core/use-cases/functions');
  invocations = await import('../../lambdas/core/use-cases/invocations');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads of `functionId`'s current record that `run` sends. */
async function functionReads(functionId: string, run: () => Promise<unknown>): Promise<number> {
  const commands = await dynamoCommandsOf(run);
  return commands.filter(({ name, input }) => name === 'GetCommand' && (input.Key as { functionId?: string } | undefined)?.functionId === functionId).length;
}

test('invocations within FUNCTION_CACHE_MS read their function once; this process changing it is seen at once, another process within the bound', async () => {
  const dev = await c.newUser(['developer']);
  const fn = await functions.createFunction(c.deps, dev.user, definition());
  const invoke = async () => (await invocations.invoke(c.deps, { user: dev.user }, fn.functionId, { mode: 'async' })).job;

  let jobs: Awaited<ReturnType<typeof invoke>>[] = [];
  expect(await functionReads(fn.functionId, async () => (jobs = [await invoke(), await invoke(), await invoke()]))).toBe(1);
  expect(jobs.map((j) => j.functionVersion)).toEqual([1, 1, 1]);

  // Updated here: the next job is of version 2, without waiting for the bound.
  await functions.updateFunction(c.deps, dev.user, fn.functionId, definition({ resources: { vcpu: 0.25, memoryMb: 128, timeoutS: 30 } }));
  expect(await invoke()).toMatchObject({ functionVersion: 2, resources: { vcpu: 0.25, memoryMb: 128 } });

  // Written by another process (the store directly): this process creates version 2's jobs until the bound passes.
  const current = await c.deps.functions.getFunction(fn.functionId);
  expect(await c.deps.functions.updateFunction({ ...current!, version: 3, resources: { ...current!.resources, memoryMb: 256 } })).toBe(true);
  expect((await invoke()).functionVersion).toBe(2);
  await sleep(functions.FUNCTION_CACHE_MS);
  expect(await invoke()).toMatchObject({ functionVersion: 3, resources: { memoryMb: 256 } });

  // Deleted here: refused at once, though the record was read a moment ago.
  await functions.deleteFunction(c.deps, dev.user, fn.functionId);
  await expect(invoke()).rejects.toMatchObject({ code: 'not_found', details: { deleted: true } });
}, 60_000);

test('the cache never lets another user invoke a function, nor a read elsewhere skip the store', async () => {
  const dev = await c.newUser(['developer']);
  const other = await c.newUser(['developer']);
  const fn = await functions.createFunction(c.deps, dev.user, definition());
  await invocations.invoke(c.deps, { user: dev.user }, fn.functionId, { mode: 'async' });
  // The owner's record is in the cache now; the ownership check still runs on it.
  await expect(invocations.invoke(c.deps, { user: other.user }, fn.functionId, { mode: 'async' })).rejects.toMatchObject({ code: 'not_found' });
  // Reading the function (GET /functions/{id}) is never served from the cache.
  expect(await functionReads(fn.functionId, () => functions.readFunction(c.deps, dev.user, fn.functionId, {}))).toBe(1);
}, 60_000);
