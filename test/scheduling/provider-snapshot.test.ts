import { Api, newUser } from '../support/api';
import { ScriptedProvider, startTestPlatform, TestPlatform, tokenOf } from './support';
import type { Deps } from '../../lambdas/core/use-cases/context';

/**
 * Issue #16: an invocation places on this controller's recent listing of the providers
 * (scheduling.ts, PROVIDER_SNAPSHOT_MS) instead of listing them twice (admission, then placement).
 * A listing that shows no room is never trusted: a provider that came online since still gets
 * the job at once.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_STALE_MS: '60000' }, { images: false });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'e'.repeat(64)}`;

async function fn(dev: { api: Api }, vcpu: number): Promise<string> {
  const res = await dev.api.post('/functions', { name: 'f', image, mode: 'async', resources: { vcpu, memoryMb: 64, timeoutS: 60 } });
  expect(res.status).toBe(201);
  return res.body.functionId;
}

/** The test's ports, with the provider listings counted. */
function counting(deps: Deps) {
  const counter = { listings: 0 };
  const providers = new Proxy(deps.providers, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'listProviders') return (...args: unknown[]) => (counter.listings++, (value as (...a: unknown[]) => unknown).apply(target, args));
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { deps: { ...deps, providers } as Deps, counter };
}

test('invocations share one listing of the providers: at most one per invocation, where each made two', async () => {
  const { invoke } = await import('../../lambdas/core/use-cases/invocations');
  const { authenticateCaller } = await import('../../lambdas/core/use-cases/accounts');
  await ScriptedProvider.register(t.api, t.sqs, { vcpu: 4, memoryMb: 4096 }, 'roomy');
  const dev = await newUser(t.api, ['developer']);
  const f = await fn(dev, 0.5);
  const { deps, counter } = counting(t.deps);
  const caller = await authenticateCaller(deps, `Bearer ${tokenOf(dev.api)}`, undefined);
  const n = 4;
  for (let i = 0; i < n; i++) expect((await invoke(deps, caller, f, {})).job.status).toBe('ASSIGNED');
  // Back to back they share the first listing (a slower machine lists again after PROVIDER_SNAPSHOT_MS).
  expect(counter.listings).toBeLessThanOrEqual(n);
}, 60_000);

test('a listing that shows no room is read again: a provider that came online since gets the job at once', async () => {
  const dev = await newUser(t.api, ['developer']);
  // Larger than anything the other test registered: only these providers fit it.
  const f = await fn(dev, 8);
  const first = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 8, memoryMb: 512 }, 'first');
  const a = await dev.api.post(`/functions/${f}/invocations`, {});
  expect(a.body).toMatchObject({ status: 'ASSIGNED', providerId: first.providerId });
  // The controller's listing now shows `first` full; `second` is not in it.
  const second = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 8, memoryMb: 512 }, 'second');
  const b = await dev.api.post(`/functions/${f}/invocations`, {});
  expect(b.body).toMatchObject({ status: 'ASSIGNED', providerId: second.providerId });
}, 60_000);
