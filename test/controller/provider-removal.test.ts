import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { generateKeyPair } from '../../contract/src';
import { ENV } from '../../lambdas/handlers/manifest';
import { Controller, definition, rejects, sqsOf, startController } from './harness';

/**
 * Issue #20: a provider's queue lives outside CloudFormation, so it goes with its provider. The
 * owner removes a machine (`DELETE /providers/{id}`): refused while it runs a job (the job placed
 * by a real invocation), allowed once drained and idle, and then the record and the queue are
 * gone. Against DynamoDB Local and fauxqs.
 */
let c: Controller;
let sqs: SQSClient;
beforeAll(async () => {
  c = await startController();
  sqs = sqsOf(c);
}, 120_000);
afterAll(async () => {
  await c?.stop();
}, 60_000);

const queueExists = (providerId: string) =>
  sqs.send(new GetQueueUrlCommand({ QueueName: `${c.env[ENV.queuePrefix]}${providerId}` })).then(
    () => true,
    () => false,
  );

test('a provider running a job cannot be removed; drained and idle, it goes with its queue, and its id is then unknown', async () => {
  const { registerProvider, heartbeat } = await import('../../lambdas/core/use-cases/providers');
  const { removeProvider } = await import('../../lambdas/core/use-cases/provider-removal');
  const { createFunction } = await import('../../lambdas/core/use-cases/functions');
  const { invoke } = await import('../../lambdas/core/use-cases/invocations');
  const { reclaim } = await import('../../lambdas/core/use-cases/scheduling');

  const { user: owner } = await c.newUser(['provider']);
  const { user: stranger } = await c.newUser(['provider']);
  const { user: developer } = await c.newUser(['developer']);
  const { providerId } = await registerProvider(c.deps, owner, { name: 'desk', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
  expect(await queueExists(providerId)).toBe(true);

  // Another user's provider is not found; an account without the provider role is refused.
  await rejects(removeProvider(c.deps, stranger, providerId), 'not_found');
  await rejects(removeProvider(c.deps, developer, providerId), 'forbidden');

  // A job placed on it: removal is refused, and nothing is removed.
  const fn = await createFunction(c.deps, developer, definition());
  const invocation = await invoke(c.deps, { user: developer }, fn.functionId, { mode: 'async', input: 'x' });
  const job = (await c.deps.jobs.getJob(invocation.job.jobId))!;
  expect([job.status, job.providerId]).toEqual(['ASSIGNED', providerId]);
  const busy = await rejects(removeProvider(c.deps, owner, providerId), 'conflict');
  expect(busy.message).toMatch(/running jobs/);
  expect(busy.details).toEqual({ reservedVcpu: 0.5, reservedMemoryMb: 64 });
  expect(await c.deps.providers.getProvider(providerId)).toBeDefined();
  expect(await queueExists(providerId)).toBe(true);

  // The owner drains it (nothing new is placed there), and its job ends (here: taken back, as the reaper does).
  await heartbeat(c.deps, owner, providerId, { draining: true, runningJobs: [job.jobId] });
  await reclaim(c.deps, job, 'test: the job left the machine');
  expect((await c.deps.providers.getProvider(providerId))).toMatchObject({ reservedVcpuMilli: 0, reservedMemoryMb: 0 });
  expect((await c.deps.jobs.getJob(job.jobId))?.status).toBe('QUEUED');

  await removeProvider(c.deps, owner, providerId);
  expect(await c.deps.providers.getProvider(providerId)).toBeUndefined();
  expect(await queueExists(providerId)).toBe(false);
  // Gone: a heartbeat, a second removal and the owner's view all say it is unknown.
  await rejects(heartbeat(c.deps, owner, providerId, {}), 'not_found');
  await rejects(removeProvider(c.deps, owner, providerId), 'not_found');
}, 120_000);

test('a reservation racing the removal: exactly one of them wins', async () => {
  const { registerProvider } = await import('../../lambdas/core/use-cases/providers');
  const { removeProvider } = await import('../../lambdas/core/use-cases/provider-removal');
  const { user: owner } = await c.newUser(['provider']);
  for (let round = 0; round < 5; round++) {
    const { providerId } = await registerProvider(c.deps, owner, { name: `race${round}`, capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
    const record = (await c.deps.providers.getProvider(providerId))!;
    const [reserved, removed] = await Promise.all([
      c.deps.providers.reserve(record, 500, 64),
      removeProvider(c.deps, owner, providerId).then(
        () => true,
        (err: { code?: string }) => {
          if (err.code !== 'conflict') throw err;
          return false;
        },
      ),
    ]);
    expect(reserved !== removed).toBe(true);
    const after = await c.deps.providers.getProvider(providerId);
    // A winning reservation leaves the provider and its queue; a winning removal leaves neither (and no half-made item).
    if (reserved) expect([after?.reservedVcpuMilli, await queueExists(providerId)]).toEqual([500, true]);
    else expect([after, await queueExists(providerId)]).toEqual([undefined, false]);
  }
}, 120_000);
