import { definition, onlineProvider as onlineProviderOf, startController, type Controller } from '../controller/harness';

/**
 * Issue #19, probation quota: with PROBATION_RESULTS = 2 and PROBATION_QUOTA = 1, a provider on
 * probation holds at most one job (replica) at once, however much room it has; the next replica
 * goes to another provider or waits. Against DynamoDB Local and fauxqs, through the use-cases.
 */

let c: Controller;
beforeAll(async () => {
  c = await startController({ PROBATION_RESULTS: '2', PROBATION_QUOTA: '1' });
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

const onlineProvider = (name: string) => onlineProviderOf(c, name);

test('#19: a provider on probation holds at most PROBATION_QUOTA jobs at once, though it has room for many', async () => {
  const { createFunction } = await import('../../lambdas/core/use-cases/functions');
  const { invoke } = await import('../../lambdas/core/use-cases/invocations');
  const providers = [await onlineProvider('new-1'), await onlineProvider('new-2'), await onlineProvider('new-3')];
  const dev = await c.newUser(['developer']);
  const checked = await createFunction(c.deps, dev.user, definition({ name: 'checked', verification: { mode: 'replicate', k: 2 } }));

  // Two replicated jobs: four replicas for three new providers, each allowed one at a time.
  const groups = [];
  for (const input of ['a', 'b']) groups.push((await invoke(c.deps, { user: dev.user }, checked.functionId, { mode: 'async', input })).job);
  const replicas = await Promise.all(groups.flatMap((g) => g.replication?.replicaIds ?? []).map((id) => c.deps.jobs.getJob(id)));
  expect(replicas).toHaveLength(4);
  const assigned = replicas.filter((r) => r?.status === 'ASSIGNED');
  expect(assigned).toHaveLength(3);
  expect(new Set(assigned.map((r) => r?.providerId)).size).toBe(3);
  expect(assigned.every((r) => providers.includes(r!.providerId!))).toBe(true);
  expect(replicas.filter((r) => r?.status === 'QUEUED')).toHaveLength(1);
}, 120_000);
