import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Invocations from '../../lambdas/core/use-cases/invocations';
import type * as Jobs from '../../lambdas/core/use-cases/jobs';
import { Controller, definition, rejects, startController } from './harness';

/**
 * The function registry against DynamoDB Local: create, read, list, update (version n+1, jobs keep
 * theirs), delete (no new jobs, history kept), ownership.
 */
let c: Controller;
let functions: typeof Functions;
let invocations: typeof Invocations;
let jobs: typeof Jobs;

beforeAll(async () => {
  c = await startController();
  functions = await import('../../lambdas/core/use-cases/functions');
  invocations = await import('../../lambdas/core/use-cases/invocations');
  jobs = await import('../../lambdas/core/use-cases/jobs');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

const imageB = `127.0.0.1:5000/chainfaas/echo@sha256:${'b'.repeat(64)}`;

test('create fills the defaults and a price cap; read and list return it; another user sees nothing', async () => {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition({ env: { GREETING: 'hi' }, mode: 'async' }));
  expect(fn).toMatchObject({ ownerId: user.userId, version: 1, protocol: 'stdio', mode: 'async', network: 'none', env: { GREETING: 'hi' } });
  expect(fn.maxPrice).toBeGreaterThan(0);
  expect(await functions.readFunction(c.deps, user, fn.functionId, {})).toEqual(fn);
  expect((await functions.listOwnFunctions(c.deps, user)).map((f) => f.functionId)).toEqual([fn.functionId]);
  const other = await c.newUser();
  await rejects(functions.readFunction(c.deps, other.user, fn.functionId, {}), 'not_found');
  expect(await functions.listOwnFunctions(c.deps, other.user)).toEqual([]);
  await rejects(functions.updateFunction(c.deps, other.user, fn.functionId, definition()), 'not_found');
  await rejects(functions.deleteFunction(c.deps, other.user, fn.functionId), 'not_found');
  // A malformed id, or the key of a version snapshot, is simply unknown.
  await rejects(functions.readFunction(c.deps, user, `${fn.functionId}#v1`, {}), 'not_found');
});

test('an update writes version n+1; every version stays readable; a job keeps the version it was created with', async () => {
  const { user } = await c.newUser();
  const v1 = await functions.createFunction(c.deps, user, definition({ env: { V: '1' } }));
  const before = await invocations.invoke(c.deps, { user }, v1.functionId, { input: 'x', mode: 'async' });
  const v2 = await functions.updateFunction(
    c.deps,
    user,
    v1.functionId,
    definition({ image: imageB, resources: { vcpu: 1, memoryMb: 128, timeoutS: 20 }, env: { V: '2' } }),
  );
  expect(v2).toMatchObject({ functionId: v1.functionId, version: 2, image: imageB, createdAt: v1.createdAt, env: { V: '2' } });
  expect(v2.updatedAt >= v1.updatedAt).toBe(true);
  const after = await invocations.invoke(c.deps, { user }, v1.functionId, { input: 'x', mode: 'async' });

  // The job created before the update runs version 1's image, resources and env; the new one version 2's.
  const old = await c.deps.jobs.getJob(before.job.jobId);
  expect(old).toMatchObject({ functionVersion: 1, image: v1.image, resources: v1.resources });
  expect(await c.deps.jobs.getJob(after.job.jobId)).toMatchObject({ functionVersion: 2, image: imageB, resources: { vcpu: 1, memoryMb: 128, timeoutS: 20 } });
  expect((await c.deps.functions.getFunctionVersion(v1.functionId, old?.functionVersion ?? 0))?.env).toEqual({ V: '1' });

  expect(await functions.readFunction(c.deps, user, v1.functionId, { version: '1' })).toEqual(v1);
  expect(await functions.readFunction(c.deps, user, v1.functionId, {})).toEqual(v2);
  await rejects(functions.readFunction(c.deps, user, v1.functionId, { version: '3' }), 'not_found', 'version');
  await rejects(functions.readFunction(c.deps, user, v1.functionId, { version: 'latest' }), 'invalid_request', 'version');
});

test('concurrent updates never write one version twice: of two writes based on the same version exactly one wins, the other is 409', async () => {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition());
  // The store's conditional write, raced directly: both are based on version 1.
  const next = (n: string) => ({ ...fn, version: 2, env: { N: n }, updatedAt: new Date().toISOString() });
  const raced = await Promise.all([c.deps.functions.updateFunction(next('a')), c.deps.functions.updateFunction(next('b'))]);
  expect(raced.filter(Boolean)).toHaveLength(1);
  const stored = await c.deps.functions.getFunction(fn.functionId);
  expect(stored?.version).toBe(2);
  expect((await c.deps.functions.getFunctionVersion(fn.functionId, 2))?.env).toEqual(stored?.env);

  // Through the use-case: every update reads then writes; losers of a race get 409 and nothing is lost.
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, (_, i) => functions.updateFunction(c.deps, user, fn.functionId, definition({ env: { N: String(i) } }))),
  );
  const won = results.filter((r) => r.status === 'fulfilled').length;
  expect(won).toBeGreaterThanOrEqual(1);
  for (const r of results) if (r.status === 'rejected') expect(r.reason.code).toBe('conflict');
  const current = await functions.readFunction(c.deps, user, fn.functionId, {});
  expect(current.version).toBe(2 + won);
  for (let v = 1; v <= current.version; v++) expect((await c.deps.functions.getFunctionVersion(fn.functionId, v))?.version).toBe(v);
});

test('an update is validated like a create and names the field', async () => {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition());
  await rejects(functions.updateFunction(c.deps, user, fn.functionId, definition({ image: 'registry/x:latest' })), 'invalid_request', 'image');
  await rejects(
    functions.updateFunction(c.deps, user, fn.functionId, definition({ resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 100_000 } })),
    'invalid_request',
    'resources.timeoutS',
  );
  expect((await functions.readFunction(c.deps, user, fn.functionId, {})).version).toBe(1);
});

test('delete: no new invocations (404, deleted), no update, hidden from the list; record, versions and jobs stay readable', async () => {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition());
  const job = (await invocations.invoke(c.deps, { user }, fn.functionId, { input: 'x', mode: 'async' })).job;
  await functions.deleteFunction(c.deps, user, fn.functionId);

  const refused = await rejects(invocations.invoke(c.deps, { user }, fn.functionId, { input: 'x' }), 'not_found');
  expect(refused.details).toMatchObject({ id: fn.functionId, deleted: true });
  expect(refused.message).toMatch(/deleted/);
  await rejects(functions.updateFunction(c.deps, user, fn.functionId, definition()), 'not_found');
  await rejects(functions.deleteFunction(c.deps, user, fn.functionId), 'not_found');

  expect((await functions.listOwnFunctions(c.deps, user)).map((f) => f.functionId)).not.toContain(fn.functionId);
  expect((await functions.readFunction(c.deps, user, fn.functionId, {})).deletedAt).toBeDefined();
  expect((await functions.readFunction(c.deps, user, fn.functionId, { version: 1 })).version).toBe(1);
  expect((await jobs.getOwnJob(c.deps, user, job.jobId)).functionId).toBe(fn.functionId);
  expect((await jobs.searchJobs(c.deps, user, { functionId: fn.functionId })).items.map((j) => j.jobId)).toEqual([job.jobId]);
});

test('only developers register functions', async () => {
  const { user } = await c.newUser(['provider']);
  const refused = await rejects(functions.createFunction(c.deps, user, definition()), 'forbidden');
  expect(refused.message).toMatch(/developer role/);
});
