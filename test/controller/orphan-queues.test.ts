import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { generateKeyPair } from '../../contract/src';
import { ENV } from '../../lambdas/handlers/manifest';
import type { Deps } from '../../lambdas/core/use-cases/context';
import { Controller, sqsOf, startController } from './harness';

/**
 * Issue #20: a provider queue left behind when `deleteQueue` failed after the provider's record
 * was deleted (provider-removal.ts deletes the record first). The reaper's orphan sweep deletes
 * queues tagged `chainfaas:provider` whose record no longer exists, once they are older than the
 * grace a registration in progress needs, and leaves every other queue alone. Against DynamoDB
 * Local and fauxqs.
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

const prefix = () => c.env[ENV.queuePrefix] as string;
const queueExists = (name: string) =>
  sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
    () => true,
    () => false,
  );
/** The controller's dependencies with the clock moved to `at`. */
const at = (date: Date): Deps => ({ ...c.deps, now: () => date });

test('deletes the queue of a provider whose record is gone, once past the grace; keeps the others', async () => {
  const { registerProvider } = await import('../../lambdas/core/use-cases/providers');
  const { sweepOrphanQueues, ORPHAN_QUEUE_GRACE_MS } = await import('../../lambdas/core/use-cases/reaper');
  const { user: owner } = await c.newUser(['provider']);
  const register = (name: string) => registerProvider(c.deps, owner, { name, capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
  const kept = await register('kept');
  const orphan = await register('orphan');
  // The removal deleted the record, then its deleteQueue failed: the queue stays behind.
  expect(await c.deps.providers.deleteProvider(orphan.providerId, owner.userId)).not.toBe('missing');
  expect(await c.deps.providers.getProvider(orphan.providerId)).toBeUndefined();
  // A queue under the prefix that is no provider's (no chainfaas:provider tag): never touched.
  await sqs.send(new CreateQueueCommand({ QueueName: `${prefix()}prv_untagged` }));

  // Young: it could be a registration that has not written its record yet.
  expect(await sweepOrphanQueues(c.deps)).toBe(0);
  expect(await queueExists(`${prefix()}${orphan.providerId}`)).toBe(true);

  const later = at(new Date(Date.now() + ORPHAN_QUEUE_GRACE_MS + 60_000));
  expect(await sweepOrphanQueues(later)).toBe(1);
  expect(await queueExists(`${prefix()}${orphan.providerId}`)).toBe(false);
  expect(await queueExists(`${prefix()}${kept.providerId}`)).toBe(true);
  expect(await queueExists(`${prefix()}prv_untagged`)).toBe(true);
  expect(await queueExists(`${prefix()}dlq`)).toBe(true);
  // Nothing left to do.
  expect(await sweepOrphanQueues(later)).toBe(0);
}, 120_000);

test("the reaper's sweep runs it once an hour, at minute 0", async () => {
  const { registerProvider } = await import('../../lambdas/core/use-cases/providers');
  const { sweep } = await import('../../lambdas/core/use-cases/reaper');
  const { user: owner } = await c.newUser(['provider']);
  const orphan = await registerProvider(c.deps, owner, { name: 'gone', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
  await c.deps.providers.deleteProvider(orphan.providerId, owner.userId);
  const hour = new Date(Date.now() + 2 * 3_600_000);
  hour.setUTCMinutes(0, 30, 0);
  const notOnTheHour = new Date(hour.getTime() + 5 * 60_000);
  expect((await sweep(at(notOnTheHour))).orphanQueuesRemoved).toBeUndefined();
  expect(await queueExists(`${prefix()}${orphan.providerId}`)).toBe(true);
  expect((await sweep(at(hour))).orphanQueuesRemoved).toBe(1);
  expect(await queueExists(`${prefix()}${orphan.providerId}`)).toBe(false);
}, 120_000);
