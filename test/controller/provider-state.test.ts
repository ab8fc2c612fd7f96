import type { Deps } from '../../lambdas/core/use-cases/context';
import { generateKeyPair } from '../../contract/src';
import { startController, type Controller } from './harness';

/** A provider's state as its owner sees it (GET /providers/{id}), against DynamoDB Local and the SQS emulator. */

let c: Controller;
beforeAll(async () => {
  c = await startController();
});
afterAll(async () => {
  await c?.stop();
});

test('#18 item 9: a machine whose last heartbeat said draining shows draining while heard from, then offline once silent past the window', async () => {
  const { registerProvider, heartbeat, getOwnProviderView, listOwnProviders } = await import('../../lambdas/core/use-cases/providers');
  const { user } = await c.newUser(['provider']);
  const t0 = Date.now();
  const at = (ms: number): Deps => ({ ...c.deps, now: () => new Date(t0 + ms) });
  const { providerId } = await registerProvider(at(0), user, { name: 'laptop', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });

  await heartbeat(at(1000), user, providerId, {});
  expect((await getOwnProviderView(at(2000), user, providerId)).state).toBe('online');

  // The agent is stopped: its last heartbeat says it drains, then nothing more.
  await heartbeat(at(3000), user, providerId, { draining: true });
  expect((await getOwnProviderView(at(4000), user, providerId)).state).toBe('draining');

  const window = c.deps.config.heartbeatStaleMs;
  const later = await getOwnProviderView(at(3000 + window + 1000), user, providerId);
  expect(later).toMatchObject({ state: 'offline', online: false, draining: true, silentS: window / 1000 + 1 });
  const listed = await listOwnProviders(at(3000 + window + 1000), user);
  expect(listed.items.find((p) => p.providerId === providerId)?.state).toBe('offline');
});

test('#24: an idle machine that announced a slow beat (nextBeatS) stays online through its pause, then goes offline; running jobs keep the normal window', async () => {
  const { registerProvider, heartbeat, getOwnProviderView } = await import('../../lambdas/core/use-cases/providers');
  const { user } = await c.newUser(['provider']);
  const t0 = Date.now();
  const at = (ms: number): Deps => ({ ...c.deps, now: () => new Date(t0 + ms) });
  const { providerId } = await registerProvider(at(0), user, { name: 'idle desktop', capacity: { vcpu: 2, memoryMb: 1024 }, publicKey: generateKeyPair().publicKeyPem });
  const window = c.deps.config.heartbeatStaleMs;

  await heartbeat(at(1000), user, providerId, { nextBeatS: 300 });
  expect((await c.deps.providers.getProvider(providerId))?.nextBeatS).toBe(300);
  // Past the usual window but within the announced pause: still online, so still a candidate.
  expect((await getOwnProviderView(at(1000 + window + 60_000), user, providerId)).state).toBe('online');
  // Silent past pause + window: offline.
  expect((await getOwnProviderView(at(1000 + window + 300_000 + 1000), user, providerId)).state).toBe('offline');

  // A beat that lists running jobs is judged by the usual window, whatever it announces.
  await heartbeat(at(400_000), user, providerId, { nextBeatS: 300, runningJobs: ['job_unknown1'] });
  expect((await c.deps.providers.getProvider(providerId))?.nextBeatS).toBeUndefined();
  expect((await getOwnProviderView(at(400_000 + window + 1000), user, providerId)).state).toBe('offline');
});

test('#24: a pause longer than the contract allows is refused with 400 naming the field', async () => {
  const { registerProvider, heartbeat } = await import('../../lambdas/core/use-cases/providers');
  const { user } = await c.newUser(['provider']);
  const { providerId } = await registerProvider(c.deps, user, { name: 'greedy', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
  await expect(heartbeat(c.deps, user, providerId, { nextBeatS: 3600 })).rejects.toMatchObject({ field: 'nextBeatS' });
});
