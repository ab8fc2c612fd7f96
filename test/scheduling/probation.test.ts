import { EMPTY_REPUTATION } from '../../lambdas/core/reputation';
import { definition, onlineProvider as onlineProviderOf, startController, type Controller } from '../controller/harness';

/**
 * Issue #19, probation: with PROBATION_RESULTS = 2, a provider with fewer than 2 consecutive agreed
 * results takes only replicas (whose results other owners check), never a job that runs on it
 * alone. Against DynamoDB Local and fauxqs, through the use-cases; the reputation is the stored
 * one the placement reads.
 */

let c: Controller;
beforeAll(async () => {
  c = await startController({ PROBATION_RESULTS: '2' });
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

const onlineProvider = (name: string) => onlineProviderOf(c, name);

test('#19: a provider on probation gets replicas only; once it has enough agreed results in a row it takes unreplicated jobs too', async () => {
  const { createFunction } = await import('../../lambdas/core/use-cases/functions');
  const { invoke } = await import('../../lambdas/core/use-cases/invocations');
  const fresh = await onlineProvider('fresh');
  const other = await onlineProvider('other');
  const dev = await c.newUser(['developer']);
  const plain = await createFunction(c.deps, dev.user, definition({ name: 'plain' }));
  const checked = await createFunction(c.deps, dev.user, definition({ name: 'checked', verification: { mode: 'replicate', k: 2 } }));

  // Both providers are new: a job nobody would check waits; the replicas of a checked one run on both.
  const waiting = (await invoke(c.deps, { user: dev.user }, plain.functionId, { mode: 'async', input: 'x' })).job;
  expect((await c.deps.jobs.getJob(waiting.jobId))?.status).toBe('QUEUED');
  const group = (await invoke(c.deps, { user: dev.user }, checked.functionId, { mode: 'async', input: 'x' })).job;
  const replicas = await Promise.all((group.replication?.replicaIds ?? []).map((id) => c.deps.jobs.getJob(id)));
  expect(replicas.map((r) => r?.status)).toEqual(['ASSIGNED', 'ASSIGNED']);
  expect(replicas.map((r) => r?.providerId).sort()).toEqual([fresh, other].sort());

  // One agreement is not enough; two in a row end the probation of `fresh` (and only of it).
  expect(await c.deps.providers.setReputation!(fresh, { ...EMPTY_REPUTATION, agreed: 1, consecutiveValid: 1 }, 0)).toBe(true);
  const still = (await invoke(c.deps, { user: dev.user }, plain.functionId, { mode: 'async', input: 'y' })).job;
  expect((await c.deps.jobs.getJob(still.jobId))?.status).toBe('QUEUED');
  expect(await c.deps.providers.setReputation!(fresh, { ...EMPTY_REPUTATION, agreed: 2, consecutiveValid: 2 }, 1)).toBe(true);
  const placed = (await invoke(c.deps, { user: dev.user }, plain.functionId, { mode: 'async', input: 'z' })).job;
  const jobs = await Promise.all([waiting, still, placed].map((j) => c.deps.jobs.getJob(j.jobId)));
  // Every unreplicated job that was placed went to `fresh`; `other` (still on probation) holds none.
  expect(jobs.filter((j) => j?.status === 'ASSIGNED').length).toBeGreaterThan(0);
  for (const j of jobs) if (j?.status === 'ASSIGNED') expect(j.providerId).toBe(fresh);
}, 120_000);
